import type { Transporter } from 'nodemailer';

export interface InvitationMail {
  to: string;
  url: string;
  projectName: string;
  role: string;
  invitedBy: string;
  expiresAt: string;
}

/**
 * Outgoing e-mail (nodemailer over SMTP), for invitation links. The message holds the link and
 * nothing else secret. A failure is reported without the link: callers log it and still show the link.
 */
export function createMailService(cfg: { smtpUrl: string | undefined; from: string }) {
  // nodemailer is loaded with the first message, not at start (it is the largest module a server would load).
  let transporting: Promise<Transporter> | undefined;
  let transport: Transporter | undefined;
  const getTransport = (smtpUrl: string): Promise<Transporter> =>
    (transporting ??= import('nodemailer').then((m) => {
      transport = m.default.createTransport({
        url: smtpUrl,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
        logger: false,
        debug: false,
      } as never);
      return transport;
    }));
  return {
    enabled: cfg.smtpUrl !== undefined && cfg.smtpUrl !== '',

    /** Sends an invitation; resolves false (with a reason free of the link) when the mail could not be handed over. */
    async sendInvitation(m: InvitationMail): Promise<{ sent: true } | { sent: false; reason: string }> {
      if (!cfg.smtpUrl) return { sent: false, reason: 'KEYLOFT_SMTP_URL is not set' };
      const text = [
        `${m.invitedBy} invited you to the project "${m.projectName}" on keyloft as ${m.role}.`,
        '',
        `Open this link to accept (it works once, until ${m.expiresAt}):`,
        m.url,
        '',
        'If you did not expect this, ignore this e-mail.',
      ].join('\n');
      try {
        await (await getTransport(cfg.smtpUrl)).sendMail({ from: cfg.from, to: m.to, subject: `You are invited to ${m.projectName} on keyloft`, text });
        return { sent: true };
      } catch (err) {
        const e = err as { code?: string; responseCode?: number; message?: string };
        // The SMTP server's answer could echo the message; keep only codes and a link-free message.
        const reason = [
          e.code,
          e.responseCode,
          (e.message ?? '')
            .split(m.url)
            .join('[link]')
            .replace(/kl[a-z]+_[A-Za-z0-9_-]+/g, '[redacted]')
            .slice(0, 200),
        ]
          .filter(Boolean)
          .join(' ');
        return { sent: false, reason };
      }
    },

    close(): void {
      transport?.close();
    },
  };
}

export type MailService = ReturnType<typeof createMailService>;
