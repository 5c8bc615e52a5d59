// The script of report.html (inlined by render-html.ts after the uPlot library): draws the
// timeline and the root cause's metric plots from the report embedded in the page. Plain browser
// JavaScript with no network. Strings of the report reach the page only as canvas text and
// through uPlot's textContent, never as markup. The plots are left on window.hicReport so a test
// can read their series.
'use strict';
(function () {
  const report = JSON.parse(document.getElementById('report-data').textContent);
  const ms = (ns) => ns / 1e6;
  // Series colours are used by nothing else on the canvas, so each series can be found by its colour.
  const COLORS = { old: '#7a7f87', new: '#1f6feb', idle: '#2da44e', http: '#bf8700', realtime: '#e85aad', persistent: '#8250df', latency: '#0a7f86' };
  const PHASE_COLORS = ['#0550ae', '#116329', '#953800', '#512a97', '#a40e26'];
  const LEVEL_COLORS = { P0: '#a40e26', P1: '#cf222e', P2: '#d18616', P3: '#6e7781' };

  /** The latest value at or before t of a time-ordered series, or null before its first point. */
  function stepAt(points, t, pick) {
    let lo = 0, hi = points.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid].tNs <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found < 0 ? null : pick(points[found]);
  }

  function timelineData() {
    const split = report.split;
    const stages = report.stages;
    // Every sample and stage boundary, and the first and last instant of the report, so the phase
    // markers all fall on the axis.
    const xs = new Set(split.map((s) => s.tNs));
    for (const s of stages) { xs.add(s.startNs); xs.add(s.endNs); }
    for (const p of report.phases.concat(report.rollback ? report.rollback.phases : [])) { xs.add(p.startNs); xs.add(p.endNs); }
    const x = [...xs].sort((a, b) => a - b);
    const movedOf = (s) => (s.moved !== undefined ? s.moved : s.new);
    // The split as sampled: nothing is drawn past its last sample.
    const lastSample = split.length > 0 ? split[split.length - 1].tNs : -1;
    const sampled = (pick) => x.map((t) => (t > lastSample ? null : stepAt(split, t, pick)));
    const series = [
      { label: 'old instance', scale: 'conn', stroke: COLORS.old, width: 2, values: sampled((s) => s.old) },
      { label: 'new instance', scale: 'conn', stroke: COLORS.new, width: 2, values: sampled((s) => s.new) },
    ];
    for (const st of stages) {
      const all = st.moved + st.gone + st.failed;
      const base = stepAt(split, st.startNs, movedOf);
      series.push({
        label: `stage ${st.class}`, scale: '%', stroke: COLORS[st.class], width: 2, dash: [6, 3],
        values: x.map((t) => {
          if (t < st.startNs || t > st.endNs || all === 0) return null;
          if (t === st.startNs) return 0;
          if (t === st.endNs) return (100 * st.moved) / all;
          const now = stepAt(split, t, movedOf);
          return now === null || base === null ? null : Math.min(100, Math.max(0, (100 * (now - base)) / all));
        }),
      });
    }
    // Added latency per stage, as steps over each stage's window (the report's whole-run figures
    // over the migration when it has none per stage).
    const per = report.latency.perStage && report.latency.perStage.length > 0
      ? report.latency.perStage.map((p) => ({ ...p, window: stages.find((s) => s.class === p.class) })).filter((p) => p.window)
      : stages.length > 0 ? [{ avgNs: report.latency.avgNs, maxNs: report.latency.maxNs, window: { startNs: stages[0].startNs, endNs: stages[stages.length - 1].endNs } }] : [];
    const latencyAt = (t, key) => {
      const p = per.find((q) => t >= q.window.startNs && t <= q.window.endNs);
      return p ? ms(p[key]) : null;
    };
    series.push({ label: 'added latency avg', scale: 'ms', stroke: COLORS.latency, width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), values: x.map((t) => latencyAt(t, 'avgNs')) });
    series.push({ label: 'added latency max', scale: 'ms', stroke: COLORS.latency, width: 1, dash: [2, 2], paths: uPlot.paths.stepped({ align: 1 }), values: x.map((t) => latencyAt(t, 'maxNs')) });
    return { x, series };
  }

  /** Phase and rollback markers, alert ticks and the decision, drawn over the plot. */
  function drawMarkers(u) {
    const ctx = u.ctx;
    const { top, height, left, width } = u.bbox;
    const px = (ns) => Math.round(u.valToPos(ms(ns), 'x', true));
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.font = `${11 * dpr}px sans-serif`;
    ctx.textBaseline = 'top';
    // Lines at every step; the first step of each phase labelled on the top row, the other steps
    // on the row below where there is room.
    // Skipped steps never happened: they get no marker.
    const phases = report.phases.concat(report.rollback ? report.rollback.phases : []).filter((p) => p.outcome !== 'skipped');
    const rowEnd = [-Infinity, -Infinity];
    let previous = null;
    for (const p of phases) {
      const first = previous === null || previous.phase !== p.phase;
      previous = p;
      const xpos = px(p.startNs);
      if (xpos < left || xpos > left + width) continue;
      const color = PHASE_COLORS[p.phase - 1];
      ctx.strokeStyle = color;
      ctx.globalAlpha = first ? 0.9 : 0.35;
      ctx.setLineDash(first ? [] : [3 * dpr, 3 * dpr]);
      ctx.lineWidth = dpr;
      ctx.beginPath(); ctx.moveTo(xpos, top); ctx.lineTo(xpos, top + height); ctx.stroke();
      const row = first ? 0 : 1;
      const text = first ? `${p.phase} ${p.name}` : p.step;
      if (xpos >= rowEnd[row] + 4 * dpr) {
        ctx.globalAlpha = 1;
        ctx.fillStyle = color;
        ctx.fillText(text, xpos + 3 * dpr, top + (3 + 14 * row) * dpr);
        rowEnd[row] = xpos + 3 * dpr + ctx.measureText(text).width;
      }
    }
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    for (const a of report.alerts || []) {
      const xpos = px(a.tNs);
      ctx.fillStyle = LEVEL_COLORS[a.level];
      ctx.globalAlpha = a.suppressed ? 0.35 : 1;
      ctx.beginPath();
      ctx.moveTo(xpos, top + height - 10 * dpr); ctx.lineTo(xpos - 5 * dpr, top + height); ctx.lineTo(xpos + 5 * dpr, top + height);
      ctx.fill();
    }
    if (report.decision) {
      const xpos = px(report.decision.tNs);
      ctx.globalAlpha = 1;
      ctx.strokeStyle = '#a40e26';
      ctx.lineWidth = 2 * dpr;
      ctx.beginPath(); ctx.moveTo(xpos, top); ctx.lineTo(xpos, top + height); ctx.stroke();
      ctx.fillStyle = '#a40e26';
      ctx.textBaseline = 'bottom';
      ctx.fillText(`decision: ${report.decision.action}`, xpos + 4 * dpr, top + height - 12 * dpr);
    }
    ctx.restore();
  }

  const width = (el) => Math.max(480, el.clientWidth);
  const plots = { timeline: null, metrics: [] };

  const timelineEl = document.getElementById('timeline-plot');
  if (timelineEl) {
    const { x, series } = timelineData();
    plots.timeline = new uPlot({
      width: width(timelineEl), height: 380,
      scales: { x: { time: false }, conn: { range: (u, min, max) => [0, Math.max(1, max) * 1.05] }, '%': { range: [0, 105] }, ms: { range: (u, min, max) => [0, Math.max(0.001, max) * 1.15] } },
      axes: [
        { label: 'virtual time (ms)' },
        { scale: 'conn', label: 'connections' },
        { scale: '%', side: 1, label: 'stage progress %', grid: { show: false } },
        { scale: 'ms', side: 1, label: 'added latency (ms)', grid: { show: false } },
      ],
      legend: { live: false },
      series: [{ label: 'time (ms)' }].concat(series.map(({ values, ...s }) => ({ spanGaps: false, points: { show: false }, ...s }))),
      hooks: { draw: [drawMarkers] },
    }, [x.map(ms)].concat(series.map((s) => s.values)), timelineEl);
  }

  const metricsEl = document.getElementById('metric-plots');
  if (metricsEl && report.rootCause && report.rootCause.metrics) {
    for (const m of report.rootCause.metrics) {
      const box = document.createElement('div');
      metricsEl.appendChild(box);
      plots.metrics.push(new uPlot({
        width: 320, height: 180, title: m.name,
        legend: { show: false },
        scales: { x: { time: false } },
        axes: [{ label: 'virtual time (ms)' }, {}],
        series: [{ label: 'time (ms)' }, { label: m.name, stroke: '#cf222e', width: 2, points: { show: true } }],
        hooks: { draw: [(u) => {
          if (!report.decision) return;
          const xpos = Math.round(u.valToPos(ms(report.decision.tNs), 'x', true));
          u.ctx.save(); u.ctx.strokeStyle = '#a40e26'; u.ctx.setLineDash([4, 3]);
          u.ctx.beginPath(); u.ctx.moveTo(xpos, u.bbox.top); u.ctx.lineTo(xpos, u.bbox.top + u.bbox.height); u.ctx.stroke(); u.ctx.restore();
        }] },
      }, [m.points.map((p) => ms(p.tNs)), m.points.map((p) => p.value)], box));
    }
  }

  window.addEventListener('resize', () => {
    if (plots.timeline) plots.timeline.setSize({ width: width(timelineEl), height: 380 });
  });
  window.hicReport = plots;
})();
