// report.html in headless Chromium (Debian's /usr/bin/chromium, driven over the DevTools protocol
// by puppeteer-core): the completed and the rolled-back fixture reports, a real rolled-back one
// (the emergency of images/regression-hang.himg, booted here), and one of hostile strings. Each page must render with no console message, page error or dialog, make no request
// beyond its own file, and draw its timeline with the expected series — checked in the plot's
// data and in the canvas's pixels. Screenshots go to build/test-results/report-*.png.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateReport } from '../system/report/schema.ts';
import { writeReport } from '../system/report/write.ts';
import { reportOf } from '../system/update/report.ts';
import { bootImage, REPO } from './support/boot.ts';
import { HOSTILE, fixture, hostile } from './support/reports.ts';

const CHROMIUM = '/usr/bin/chromium';
const why = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing: run scripts/setup.mjs as root, or sudo apt-get install --no-install-recommends chromium`;
if (why && process.env.CI) throw new Error(`the report page tests must run in CI, but: ${why}`);

const RESULTS = join(REPO, 'build', 'test-results');
const scratch = mkdtempSync(join(tmpdir(), 'hic-report-html-'));

interface Opened {
  readonly page: Page;
  /** Console messages, page errors and dialogs: a clean page has none. */
  readonly problems: string[];
  /** Requests for anything but the page itself, each refused. */
  readonly requests: string[];
}

/** What the timeline plot holds and draws: series labels, data, and canvas pixels per series colour. */
interface Drawn {
  labels: string[];
  data: (number | null)[][];
  pixels: Record<string, number>;
}

describe.skipIf(why !== undefined)(`report.html in headless Chromium${why ? ` (skipped: ${why})` : ''}`, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    mkdirSync(RESULTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function open(report: UpdateReport): Promise<Opened> {
    const url = pathToFileURL(writeReport(scratch, report).html).href;
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => problems.push(`console ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      if (r.url() === url) return void r.continue();
      requests.push(r.url());
      void r.abort();
    });
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(url, { waitUntil: 'load' });
    return { page, problems, requests };
  }

  const drawn = (page: Page): Promise<Drawn> =>
    page.evaluate(() => {
      const u = (window as unknown as { hicReport: { timeline: any } }).hicReport.timeline;
      const canvas = u.ctx.canvas as HTMLCanvasElement;
      const img = u.ctx.getImageData(0, 0, canvas.width, canvas.height).data as Uint8ClampedArray;
      const pixels: Record<string, number> = {};
      const colours = [...new Set<string>(u.series.slice(1).map((s: any, i: number) => s.stroke(u, i + 1)))];
      for (const c of colours) {
        const [r, g, b] = [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16));
        let n = 0;
        for (let i = 0; i < img.length; i += 4) if (Math.abs(img[i]! - r!) + Math.abs(img[i + 1]! - g!) + Math.abs(img[i + 2]! - b!) < 24 && img[i + 3]! > 200) n++;
        pixels[c] = n;
      }
      return { labels: u.series.map((s: { label: string }) => s.label), data: u.data, pixels };
    });

  const sections = (page: Page) => page.$$eval('section[id]', (els) => els.map((e) => e.id));
  const texts = (page: Page, selector: string) => page.$$eval(selector, (els) => els.map((e) => e.textContent ?? ''));

  it('renders the completed update: every section, the timeline with its series drawn, nothing fetched', async () => {
    const report = fixture('completed');
    const { page, problems, requests } = await open(report);
    await page.screenshot({ path: join(RESULTS, 'report-completed.png'), fullPage: true });

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(await sections(page)).toEqual(['plan', 'policy', 'timeline', 'phases', 'stages', 'latency', 'resources', 'checks']);
    expect((await texts(page, 'h1'))[0]).toBe('netstack 1.2.0 → 1.3.0 completed');
    expect(await texts(page, '#plan li')).toEqual(['eth_driver 1.1.0 → 1.2.0', 'netstack 1.2.0 → 1.3.0']);
    expect(await texts(page, '#phases tbody tr')).toHaveLength(report.phases.length);

    const d = await drawn(page);
    const series = ['old instance', 'new instance', 'stage idle', 'stage http', 'stage realtime', 'stage persistent', 'added latency avg', 'added latency max'];
    expect(d.labels).toEqual(['time (ms)', ...series]);
    expect(await texts(page, '#timeline .u-legend .u-series .u-label')).toEqual(series);
    // The data as sampled: all on the old instance at the start, all moved at the end of the split.
    const [x, old, fresh] = d.data;
    expect(x![0]).toBe(450);
    expect([old![0], fresh![0]]).toEqual([1000, 0]);
    const last = report.split.at(-1)!;
    expect(old!.filter((v) => v !== null).at(-1)).toBe(last.old);
    expect(fresh!.filter((v) => v !== null).at(-1)).toBe(last.new);
    // Each stage climbs from 0 to its share of connections moved; latency steps at the stage's figures.
    report.stages.forEach((s, i) => {
      const values = d.data[3 + i]!.filter((v): v is number => v !== null);
      expect([values[0], values.at(-1)]).toEqual([0, (100 * s.moved) / (s.moved + s.gone + s.failed)]);
    });
    expect(new Set(d.data[7]!.filter((v) => v !== null))).toEqual(new Set(report.latency.perStage!.map((p) => p.avgNs / 1e6)));
    // Every series colour is on the canvas.
    for (const [colour, n] of Object.entries(d.pixels)) expect(n, `pixels of ${colour}`).toBeGreaterThan(100);
    expect(Object.keys(d.pixels)).toHaveLength(7);
    await page.close();
  });

  it('renders the rolled-back update with its alerts, decision, rollback phases and root cause', async () => {
    const report = fixture('rolled-back');
    const { page, problems, requests } = await open(report);
    await page.screenshot({ path: join(RESULTS, 'report-rolled-back.png'), fullPage: true });

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(await sections(page)).toEqual(['plan', 'policy', 'timeline', 'phases', 'stages', 'latency', 'resources', 'checks', 'alerts', 'decision', 'rollback', 'root-cause']);
    expect((await texts(page, 'h1'))[0]).toBe('netstack 1.3.0 → 1.3.1 rolled back');
    expect(await texts(page, '#alerts tbody tr')).toHaveLength(5);
    expect(await texts(page, '#alerts tr.suppressed')).toHaveLength(1);
    expect((await texts(page, '#decision p'))[0]).toContain('rule crash-loop, failure level 1, confidence 0.97 against the threshold 0.8 — reverse rollback');
    expect(await texts(page, '#decision tbody td:first-child')).toEqual(Object.keys(report.decision!.inputs));
    expect(await texts(page, '#rollback tbody td:first-child')).toEqual(['5.1', '5.2', '5.3', '5.4']);
    expect((await texts(page, '#crash-registers'))[0]).toContain('rip    0x10b4c2');
    expect((await texts(page, '#crash-disassembly'))[0]).toContain('0x10b4c2  mov rax, qword ptr [rdx + rcx*8]');
    expect((await texts(page, '#crash-stack'))[0]!.split('\n').filter(Boolean)).toEqual(report.rootCause!.crash!.stack);

    const d = await drawn(page);
    expect(d.labels).toEqual(['time (ms)', 'old instance', 'new instance', 'stage idle', 'stage http', 'added latency avg', 'added latency max']);
    for (const [colour, n] of Object.entries(d.pixels)) expect(n, `pixels of ${colour}`).toBeGreaterThan(100);
    // The failed stage stops short: 141 of its 159 connections moved.
    expect(d.data[4]!.filter((v) => v !== null).at(-1)).toBeCloseTo((100 * 141) / 159, 9);
    const metricTitles = await page.evaluate(() =>
      (window as unknown as { hicReport: { metrics: { series: { label: string }[] }[] } }).hicReport.metrics.map((u) => u.series[1]!.label),
    );
    expect(metricTitles).toEqual(report.rootCause!.metrics!.map((m) => m.name));
    await page.close();
  });

  it('renders a real rolled-back report: the emergency of images/regression-hang.himg, booted here', async () => {
    const run = await bootImage('regression-hang');
    let report: UpdateReport;
    try {
      report = reportOf(run.system.updates.all[0]!, 'regression-hang');
    } finally {
      run.machine.dispose();
    }
    const { page, problems, requests } = await open(report);
    await page.screenshot({ path: join(RESULTS, 'report-regression-hang.png'), fullPage: true });
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(await sections(page)).toEqual(expect.arrayContaining(['phases', 'stages', 'decision', 'rollback', 'root-cause']));
    expect((await texts(page, 'h1'))[0]).toBe('netstack 1.2.0 → 1.3.2 rolled back');
    expect(await texts(page, '#rollback tbody td:first-child')).toEqual(report.rollback!.phases.map((p) => p.step));
    expect((await texts(page, '#root-cause h2'))[0]).toBe('Root cause: a code defect');
    expect((await texts(page, '#root-cause code')).join(' ')).toContain('build: define NS_FAULT_HANG');
    const metricTitles = await page.evaluate(() =>
      (window as unknown as { hicReport: { metrics: { series: { label: string }[] }[] } }).hicReport.metrics.map((u) => u.series[1]!.label),
    );
    expect(metricTitles).toEqual(report.rootCause!.metrics!.map((m) => m.name));
    await page.close();
  }, 120_000);

  it('shows hostile strings as text and runs none of them', async () => {
    const { page, problems, requests } = await open(hostile());
    await page.screenshot({ path: join(RESULTS, 'report-hostile.png'), fullPage: true });
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.title()).toMatch(/^HIC update u2-netstack-1\.3\.1/);
    expect(await page.$$eval('img', (els) => els.length)).toBe(0);
    expect(await page.$$eval('script', (els) => els.length)).toBe(2);
    expect((await texts(page, '.reason'))[0]).toContain(HOSTILE.script);
    expect((await texts(page, '#checks li'))[0]).toContain(HOSTILE.img);
    // The plot drew with a hostile metric name as its title, still as text.
    expect(await page.evaluate(() => (window as unknown as { hicReport: { metrics: { series: { label: string }[] }[] } }).hicReport.metrics[0]!.series[1]!.label)).toBe(HOSTILE.script);
    await page.close();
  });
});
