/**
 * The demo's plot as an SVG document: one panel per pass, levels (dBFS) over time of the far end, the microphone,
 * what was published and the near-end talker, with the time the talker spoke shaded. Plain SVG 1.1, no scripts,
 * no external resources: it opens in a browser and renders on GitHub.
 */
import type { LevelTimeline } from './echo_figures.js';

/** One panel: a title and its levels. */
export interface PlotPanel {
  title: string;
  timeline: LevelTimeline;
  /** When the near-end talker spoke (s, on the timeline's axis), to shade. */
  nearEndSpan: [number, number] | undefined;
}

/** The curves, in drawing order, with their colour and legend. */
const CURVES = [
  { key: 'far', label: 'far end (played on the speaker)', color: '#9e9e9e', dash: '' },
  { key: 'microphone', label: 'microphone (echo + near end)', color: '#e6550d', dash: '' },
  { key: 'nearEnd', label: 'near-end talker', color: '#31a354', dash: '4 3' },
  { key: 'published', label: 'published (what the room hears)', color: '#3182bd', dash: '' },
] as const;

const WIDTH = 960;
const PANEL_HEIGHT = 230;
const MARGIN = { left: 60, right: 20, top: 56, bottom: 40, between: 50 };
const DB_RANGE = { min: -90, max: 0 };

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Renders the panels, one under the other, as an SVG document. */
export function renderLevelPlot(title: string, panels: readonly PlotPanel[]): string {
  const height =
    MARGIN.top +
    panels.length * PANEL_HEIGHT +
    (panels.length - 1) * MARGIN.between +
    MARGIN.bottom;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const endS = Math.max(
    ...panels.map((p) => p.timeline.startS + p.timeline.microphone.length * p.timeline.stepS),
  );
  const startS = Math.min(...panels.map((p) => p.timeline.startS));
  const x = (s: number): number => MARGIN.left + ((s - startS) / (endS - startS)) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  // Legend, one row under the title.
  let legendX = MARGIN.left;
  for (const curve of CURVES) {
    parts.push(
      `<line x1="${legendX}" y1="38" x2="${legendX + 22}" y2="38" stroke="${curve.color}" stroke-width="2.5"${curve.dash ? ` stroke-dasharray="${curve.dash}"` : ''}/>`,
      `<text x="${legendX + 27}" y="42">${escapeXml(curve.label)}</text>`,
    );
    legendX += 40 + curve.label.length * 6.2;
  }

  panels.forEach((panel, index) => {
    const top = MARGIN.top + index * (PANEL_HEIGHT + MARGIN.between) + 16;
    const bottom = top + PANEL_HEIGHT - 16;
    const y = (db: number): number =>
      bottom -
      ((Math.max(DB_RANGE.min, Math.min(DB_RANGE.max, db)) - DB_RANGE.min) /
        (DB_RANGE.max - DB_RANGE.min)) *
        (bottom - top);
    parts.push(`<g class="panel" data-title="${escapeXml(panel.title)}">`);
    parts.push(
      `<text x="${MARGIN.left}" y="${top - 6}" font-weight="bold">${escapeXml(panel.title)}</text>`,
    );
    if (panel.nearEndSpan) {
      const [from, to] = panel.nearEndSpan;
      parts.push(
        `<rect class="near-end-span" x="${x(from).toFixed(1)}" y="${top}" width="${(x(to) - x(from)).toFixed(1)}" height="${bottom - top}" fill="#31a354" fill-opacity="0.08"/>`,
        `<text x="${(x(from) + 4).toFixed(1)}" y="${top + 13}" fill="#31a354">near-end talker joins</text>`,
      );
    }
    // Grid and axes: every 10 dB, every second.
    for (let db = DB_RANGE.min; db <= DB_RANGE.max; db += 10) {
      parts.push(
        `<line x1="${MARGIN.left}" y1="${y(db).toFixed(1)}" x2="${WIDTH - MARGIN.right}" y2="${y(db).toFixed(1)}" stroke="#e0e0e0"/>`,
        `<text x="${MARGIN.left - 6}" y="${(y(db) + 4).toFixed(1)}" text-anchor="end">${db}</text>`,
      );
    }
    for (let s = Math.ceil(startS); s <= endS; s++) {
      parts.push(
        `<line x1="${x(s).toFixed(1)}" y1="${bottom}" x2="${x(s).toFixed(1)}" y2="${bottom + 4}" stroke="#000"/>`,
        `<text x="${x(s).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${s}</text>`,
      );
    }
    parts.push(
      `<line x1="${MARGIN.left}" y1="${bottom}" x2="${WIDTH - MARGIN.right}" y2="${bottom}" stroke="#000"/>`,
      `<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">level (dBFS)</text>`,
    );
    for (const curve of CURVES) {
      const values = panel.timeline[curve.key];
      if (!values) continue;
      const points = values
        .map((db, i) => {
          const s = panel.timeline.startS + (i + 0.5) * panel.timeline.stepS;
          return `${x(s).toFixed(1)},${y(db).toFixed(1)}`;
        })
        .join(' ');
      parts.push(
        `<polyline class="curve" data-curve="${curve.key}" points="${points}" fill="none" stroke="${curve.color}" stroke-width="1.6"${curve.dash ? ` stroke-dasharray="${curve.dash}"` : ''}/>`,
      );
    }
    parts.push('</g>');
  });
  const axisY = height - 10;
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${axisY}" text-anchor="middle">time since the far end started (s)</text>`,
    '</svg>',
  );
  return parts.join('\n') + '\n';
}
