import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = process.env.KEYLOFT_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser suite cannot run here, or false. */
export function browserSkip(): false | string {
  return existsSync(CHROMIUM) ? false : `SKIPPED: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set KEYLOFT_TEST_CHROMIUM)`;
}

/** Debian's Chromium, headless. */
export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Fails the test on any script error or CSP violation the page reports. */
export function watchConsole(page: Page, problems: string[]): void {
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Error statuses are expected (forms re-rendered with 400, forged posts refused with 403).
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
}

/** The body text of the flash/status message at the top of the page. */
export async function flashText(page: Page): Promise<string> {
  const el = page.locator('.alert[role=status] > p, .alert[role=alert] > p').first();
  return (await el.count()) > 0 ? (await el.innerText()).trim() : '';
}
