import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../runtime/src/mainProcess.ts';

/** Where page screenshots go (gitignored): one file per page, named by the test. */
export const CONSOLE_ARTIFACTS = join(PROJECT_ROOT, 'tests', 'artifacts', 'console');

export interface LoggedRequest {
  method: string;
  url: string;
  /** The response status; undefined while pending or when it failed. */
  status?: number;
}

export interface BrowserRig {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Every request the page made, in order (documents, modules, API calls, the event stream). */
  requests: LoggedRequest[];
  /** Console errors and page errors (uncaught exceptions, CSP violations). */
  errors: string[];
  screenshot(name: string): Promise<string>;
  /** A second, separate context (its own cookies) with its own page. */
  newPage(): Promise<{ context: BrowserContext; page: Page; requests: LoggedRequest[] }>;
  close(): Promise<void>;
}

function watch(page: Page, requests: LoggedRequest[], errors: string[]): void {
  page.on('request', (r) => void requests.push({ method: r.method(), url: r.url() }));
  page.on('response', (r) => {
    const e = requests.findLast((x) => x.url === r.url() && x.method === r.request().method() && x.status === undefined);
    if (e) e.status = r.status();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => void errors.push(e.message));
}

/** Debian's Chromium, headless, driven by playwright-core, at the console's reference size. */
export async function startBrowser(opts: { viewport?: { width: number; height: number }; locale?: string } = {}): Promise<BrowserRig> {
  mkdirSync(CONSOLE_ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
  const make = async () => {
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 }, locale: opts.locale ?? 'zh-CN' });
    const page = await context.newPage();
    const requests: LoggedRequest[] = [];
    watch(page, requests, errors);
    return { context, page, requests };
  };
  const errors: string[] = [];
  const first = await make();
  return {
    browser,
    ...first,
    errors,
    async screenshot(name) {
      const path = join(CONSOLE_ARTIFACTS, `${name}.png`);
      await first.page.screenshot({ path, fullPage: true });
      return path;
    },
    newPage: make,
    async close() {
      await browser.close();
    },
  };
}
