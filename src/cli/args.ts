import { InvalidArgumentError } from 'commander';
import { validatePr } from '../domain/rules.js';

/** `--pr N`: a pull request number, by the domain's rule (the API's bound). */
export function parsePr(raw: string): number {
  try {
    return validatePr(raw);
  } catch {
    throw new InvalidArgumentError('must be a pull request number (a positive integer)');
  }
}
