import { Agent, request } from 'node:http';

/** One HTTP answer: status and body text. */
export interface Answer {
  status: number;
  text: string;
}

/**
 * What the harness is doing (the workload's name, set by run.ts), the requests in flight and when
 * the last answer came: a request that times out or a stalled workload names them.
 */
export const activity = {
  workload: 'setup',
  lastAnswerAt: Date.now(),
  inFlight: new Set<string>(),
};

/** Default bound of one request, answer included (`--request-timeout-s`; a full W4 request takes ms). */
export let requestTimeoutMs = 60_000;
export function setRequestTimeout(ms: number): void {
  requestTimeoutMs = ms;
}

/**
 * A minimal keep-alive JSON client on node:http (lower per-request overhead than fetch, so the
 * client — which shares the machine with the server — steals as little CPU as possible). Every
 * request is bounded: no answer within the timeout, or a connection that closes before the answer
 * ends, rejects with an error naming the workload (a promise that never settles hangs the run).
 */
export class Client {
  readonly #agent: Agent;
  readonly #host: string;
  readonly #port: number;

  constructor(
    baseUrl: string,
    public token?: string,
    sockets = 1,
  ) {
    const u = new URL(baseUrl);
    this.#host = u.hostname;
    this.#port = Number(u.port);
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  with(token: string): Client {
    const c = new Client(`http://${this.#host}:${this.#port}`, token);
    return c;
  }

  call(method: string, path: string, body?: unknown, token = this.token, timeoutMs = requestTimeoutMs): Promise<Answer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const what = `${activity.workload}: ${method} ${path.replace(/\?.*$/, '')}`;
    activity.inFlight.add(what);
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | undefined, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        activity.inFlight.delete(what);
        activity.lastAnswerAt = Date.now();
        if (err) reject(err);
        else resolve(answer!);
      };
      const req = request({ host: this.#host, port: this.#port, method, path, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => settle(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => settle(new Error(`${what}: the answer failed: ${e.message}`, { cause: e })));
        // A connection that closes mid-answer: 'end' never comes, and not every Node version says 'error'.
        res.on('close', () => settle(new Error(`${what}: the connection closed before the answer ended (${res.statusCode ?? '?'}, ${chunks.length} chunks)`)));
      });
      const timer = setTimeout(() => {
        const reused = req.reusedSocket ? 'a reused keep-alive connection' : 'a new connection';
        req.destroy();
        settle(new Error(`${what}: no answer in ${timeoutMs / 1000} s (on ${reused})`));
      }, timeoutMs);
      req.on('error', (e) => settle(new Error(`${what}: ${e.message}${req.reusedSocket ? ' (on a reused keep-alive connection)' : ''}`, { cause: e })));
      req.on('close', () => settle(new Error(`${what}: the connection closed with no answer${req.reusedSocket ? ' (a reused keep-alive connection)' : ''}`)));
      req.end(payload);
    });
  }

  /** Like `call`, but throws unless the status is one of `ok`; returns the parsed JSON body. */
  async json<T = any>(method: string, path: string, body?: unknown, ok: readonly number[] = [200, 201], token = this.token): Promise<T> {
    const r = await this.call(method, path, body, token);
    if (!ok.includes(r.status)) throw new Error(`${activity.workload}: ${method} ${path} answered ${r.status}: ${r.text.slice(0, 300)}`);
    return (r.text ? JSON.parse(r.text) : undefined) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}
