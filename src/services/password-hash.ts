/**
 * argon2, loaded on the first password hashed or verified: a server that only releases values
 * (or has not seen a sign-in yet) never loads the native module. Same functions, same options.
 */
interface HashOptions {
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

/**
 * Verified against when the account does not exist, so an unknown email takes as long as a wrong
 * password: an Argon2id hash (of 'keyloft-dummy-password') with the parameters of ARGON2_OPTIONS,
 * which set its cost. Fixed here rather than hashed at start (19 MiB and a hash's time per start).
 */
export const DUMMY_HASH = '$argon2id$v=19$m=19456,p=1,t=2$wT9/LYYNuoKcwLVSLjrfIA$Q5VolMFb+/7eYGggu19xxR6QBHAiiQZFpixIz5UxRYI';
