/**
 * argon2, loaded on the first password hashed or verified: a server that only releases values
 * (or has not seen a sign-in yet) never loads the native module. Same functions, same options.
 */
export interface HashOptions {
  type: 0 | 1 | 2;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}
interface Argon2Module {
  hash(password: string, options: HashOptions): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}
let loading: Promise<Argon2Module> | undefined;
const load = (): Promise<Argon2Module> => (loading ??= import('argon2').then((m) => m.default as unknown as Argon2Module));

export const argon2 = {
  /** argon2's own constant for Argon2id (`argon2.argon2id`). */
  argon2id: 2 as const,
  async hash(password: string, options: HashOptions): Promise<string> {
    return (await load()).hash(password, options);
  },
  async verify(hash: string, password: string): Promise<boolean> {
    return (await load()).verify(hash, password);
  },
};

/** Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): the cost of every password hashed by a server. */
export const ARGON2_OPTIONS: Readonly<HashOptions> = { type: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };

/** Hashes and verifies passwords; the services get one from the composition root. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

/**
 * A hasher at `options` (default: ARGON2_OPTIONS). Only the in-process test helpers pass a lower
 * cost, to keep the fast tier fast; no setting exposes it, so a server always hashes at full cost.
 * A verify reads the cost from the stored hash, so either cost verifies the other's hashes.
 */
export function passwordHasher(options: Readonly<HashOptions> = ARGON2_OPTIONS): PasswordHasher {
  return { hash: (password) => argon2.hash(password, options), verify: (hash, password) => argon2.verify(hash, password) };
}

/**
 * Verified against when the account does not exist, so an unknown email takes as long as a wrong
 * password: an Argon2id hash (of 'keyloft-dummy-password') with the parameters of ARGON2_OPTIONS,
 * which set its cost. Fixed here rather than hashed at start (19 MiB and a hash's time per start).
 */
export const DUMMY_HASH = '$argon2id$v=19$m=19456,p=1,t=2$wT9/LYYNuoKcwLVSLjrfIA$Q5VolMFb+/7eYGggu19xxR6QBHAiiQZFpixIz5UxRYI';
