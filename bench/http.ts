import { Agent, request } from 'node:http';

/** One HTTP answer: status and body text. */
export interface Answer {
  status: number;
  text: string;
}

/**
 * A minimal keep-alive JSON client on node:http (lower per-request overhead than fetch, so the
 * client — which shares the machine with the server — steals as little CPU as possible).
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

  call(method: string, path: string, body?: unknown, token = this.token): Promise<Answer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const req = request({ host: this.#host, port: this.#port, method, path, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like `call`, but throws unless the status is one of `ok`; returns the parsed JSON body. */
  async json<T = any>(method: string, path: string, body?: unknown, ok: readonly number[] = [200, 201], token = this.token): Promise<T> {
    const r = await this.call(method, path, body, token);
    if (!ok.includes(r.status)) throw new Error(`${method} ${path} answered ${r.status}: ${r.text.slice(0, 300)}`);
    return (r.text ? JSON.parse(r.text) : undefined) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}
