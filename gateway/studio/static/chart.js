// A small inline SVG line chart: a cumulative count over time (no chart library needed).
const NS = "http://www.w3.org/2000/svg";

function node(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

/** `times`: the moments (ms) something happened, oldest first; drawn as a cumulative step
 * line up to `now`, with `total` as the ceiling. */
export function cumulative(times, total, now = Date.now(), label = "Statuses set over time") {
  const W = 560, H = 200, L = 36, B = 24, T = 10, R = 10;
  const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label":
    `${label}: ${times.length} of ${total}` });
  const start = times.length ? Math.min(times[0], now - 60_000) : now - 3_600_000;
  const x = (t) => L + (W - L - R) * (t - start) / Math.max(now - start, 1);
  const top = Math.max(total, 1), y = (n) => H - B - (H - B - T) * n / top;
  svg.append(node("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#c9ced8" }),
             node("line", { x1: L, y1: y(top), x2: W - R, y2: y(top), stroke: "#e5e9f2", "stroke-dasharray": "4 3" }),
             node("text", { x: L - 6, y: y(top) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6475" }, String(top)),
             node("text", { x: L - 6, y: y(0) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6475" }, "0"));
  const fmt = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  svg.append(node("text", { x: L, y: H - 6, "font-size": 11, fill: "#5b6475" }, fmt(start)),
             node("text", { x: W - R, y: H - 6, "text-anchor": "end", "font-size": 11, fill: "#5b6475" }, fmt(now)));
  let d = `M${x(start)},${y(0)}`;
  times.forEach((t, k) => { d += ` H${x(t).toFixed(1)} V${y(k + 1).toFixed(1)}`; });
  d += ` H${x(now)}`;
  svg.append(node("path", { d, fill: "none", stroke: "#2458d3", "stroke-width": 2.5, "data-points": times.length }));
  return svg;
}
