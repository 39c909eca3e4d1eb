// Prints the benchmark's one table from the result lines bench/run collected (JSON, one object
// per line: {row, who: "poort"|"peer", ...figures}), with Poort's ratio to the reference and the
// issue's target for each row. Usage: node table.mjs results.jsonl
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const rows = [];
for (const l of lines) {
  let r = rows.find((x) => x.row === l.row);
  if (!r) { r = { row: l.row }; rows.push(r); }
  r[l.who] = l;
}
const num = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? '—' : Number(x).toFixed(d));
const cell = (m) => {
  if (!m) return '—';
  const parts = [];
  if (m.rate !== undefined) parts.push(`${num(m.rate)}/s`);
  if (m.p50 !== undefined) parts.push(`p50 ${num(m.p50, 2)} ms`);
  if (m.p99 !== undefined) parts.push(`p99 ${num(m.p99, 2)} ms`);
  if (m.cpu_us !== undefined) parts.push(`${num(m.cpu_us)} µs CPU/op`);
  if (m.rss_mib !== undefined) parts.push(`${num(m.rss_mib, 1)} MiB`);
  if (m.ms !== undefined) parts.push(`${num(m.ms)} ms`);
  if (m.sign_us !== undefined) parts.push(`${num(m.sign_us)} µs a signature`);
  if (m.note) parts.push(m.note);
  if (m.errors) parts.push(`**${m.errors} errors**`);
  return parts.join(', ');
};
const ratio = (r) => {
  const p = r.poort; const q = r.peer;
  if (!p || !q) return '—';
  if (p.rate && q.rate) return `${(p.rate / q.rate).toFixed(1)}×`;
  if (p.rss_mib && q.rss_mib) return `${(q.rss_mib / p.rss_mib).toFixed(1)}× less`;
  if (p.ms && q.ms) return `${(q.ms / p.ms).toFixed(1)}× faster`;
  if (p.sign_us && q.sign_us) return `${(q.sign_us / p.sign_us).toFixed(1)}× faster`;
  return '—';
};
console.log('| measurement | Poort | reference (node-oidc-provider) | ratio | target |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) {
  const target = (r.poort || r.peer).target || '';
  console.log(`| ${r.row} | ${cell(r.poort)} | ${cell(r.peer)} | ${ratio(r)} | ${target} |`);
}
// An RS256 code flow signs one ID token: even with nothing else to do, Poort's CPU a flow could
// not fall below that signature, so the reference's CPU a flow over it bounds the ratio.
const signature = rows.find((r) => r.poort && r.poort.sign_us)?.poort.sign_us;
const bounds = rows
  .filter((r) => r.row.startsWith('code+PKCE flow, session established') && r.peer && r.peer.cpu_us && signature)
  .map((r, i) => `${(r.peer.cpu_us / signature).toFixed(1)}×${i ? '' : ' the reference'} at ${r.row.match(/(\d+) concurrent/)[1]} flows`);
if (bounds.length) {
  console.log(`\nThe RS256 code flow's ceiling here: with its one signature (${num(signature)} µs) and nothing else, Poort's code flow could run at most ${bounds.join(' and ')} (the reference's CPU a flow over the signature).`);
}
const errors = lines.reduce((n, l) => n + (l.errors || 0), 0);
const noisy = lines.filter((l) => (l.other_cpu || 0) > 10).map((l) => `${l.row} (${l.who}): other_cpu ${l.other_cpu}%`);
if (noisy.length) console.log(`\nOther processes were busy during: ${noisy.join('; ')} — take figures on a quiet machine.`);
console.log(`\nerrors: ${errors}`);
