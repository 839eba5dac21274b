// Market analytics: the overview, daily series as Chart.js charts (volume, average price,
// active creators), top assets, the market agent's forecast with its interval, sentiment and insights.

import { request } from "../api.js";
import { eth, h, replace } from "../dom.js";
import { TYPES } from "./market.js";

const charts = [];

function chart(canvas, config) {
  if (!window.Chart) { canvas.replaceWith(h("p", { class: "muted" }, "Charts could not be loaded.")); return; }
  charts.push(new window.Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { position: "bottom" } }, ...(config.options || {}) } }));
}

function canvas(label) {
  // The canvas is named for assistive technology; the same figures are in the tables below it.
  return h("canvas", { role: "img", "aria-label": label });
}

const iso = (d) => d.toISOString().slice(0, 10);

export async function render(main) {
  const to = new Date(), from = new Date(Date.now() - 89 * 86400000);
  const [overview, market, top, insights] = await Promise.all([
    request("GET", "/analytics/overview"),
    request("GET", "/analytics/market", { query: { from: iso(from), to: iso(to) } }),
    request("GET", "/analytics/top", { query: { by: "volume", period: "30d", limit: 10 } }),
    request("GET", "/analytics/insights").catch(() => ({ insights: [] })),
  ]);
  // The forecast starts with the type that traded most this week (a type without history has no model).
  const first = overview.top_asset_type_7d || "art";
  const typeSelect = h("select", { name: "asset_type", "aria-label": "Asset type for the forecast" },
    TYPES.map((t) => h("option", { value: t, selected: t === first }, t)));
  // The market answer is per asset type and day: sum the days across types.
  const byDay = new Map();
  for (const d of market.days) {
    const e = byDay.get(d.date) || { volume: 0, tx: 0, priceSum: 0, creators: 0 };
    e.volume += Number(d.total_volume); e.tx += d.total_transactions; e.priceSum += Number(d.avg_asset_price) * d.total_transactions;
    e.creators += d.active_creators;
    byDay.set(d.date, e);
  }
  const days = [...byDay.keys()].sort();
  const series = days.map((d) => byDay.get(d));

  const volume = canvas("Daily volume in ETH"), price = canvas("Daily average price in ETH"), creators = canvas("Active creators per day");
  const forecastCanvas = canvas("Forecast of daily volume with its interval");
  const forecastBox = h("div", { id: "forecast", "aria-live": "polite", "aria-busy": "true" });
  replace(main, h("h1", {}, "Market analytics"),
    h("div", { class: "stats", id: "overview" },
      h("div", {}, "Total volume", h("strong", {}, eth(overview.total_volume))),
      h("div", {}, "Sales", h("strong", {}, overview.total_sales)),
      h("div", {}, "Assets", h("strong", {}, overview.total_assets)),
      h("div", {}, "Creators", h("strong", {}, overview.total_creators)),
      h("div", {}, "Volume 24 h", h("strong", {}, eth(overview.volume_24h))),
      h("div", {}, "Average price 7 d", h("strong", {}, eth(overview.avg_price_7d))),
      h("div", {}, "Staked", h("strong", {}, eth(overview.total_value_staked))),
      h("div", {}, "Sentiment", h("strong", {}, overview.market_sentiment))),
    h("div", { class: "cols" },
      h("section", {}, h("h2", {}, "Volume"), h("div", { class: "chart" }, volume)),
      h("section", {}, h("h2", {}, "Average price"), h("div", { class: "chart" }, price)),
      h("section", {}, h("h2", {}, "Active creators"), h("div", { class: "chart" }, creators)),
      h("section", {}, h("h2", {}, "Forecast"), h("label", {}, "Asset type", typeSelect), h("div", { class: "chart" }, forecastCanvas), forecastBox)),
    h("section", { "aria-labelledby": "top-h" }, h("h2", { id: "top-h" }, "Top assets (30 days, by volume)"),
      top.items.length ? h("table", {}, h("thead", {}, h("tr", {}, ["#", "Asset", "Type", "Volume", "Sales", "Last price"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, top.items.map((t) => h("tr", {}, h("td", {}, t.rank), h("td", {}, h("a", { href: `#/asset/${t.asset_id}` }, t.asset_id.slice(0, 8))),
          h("td", {}, t.asset_type), h("td", {}, eth(t.volume)), h("td", {}, t.sales), h("td", {}, eth(t.last_price))))))
        : h("p", { class: "muted" }, "No sales in the last 30 days.")),
    h("section", { "aria-labelledby": "ins-h" }, h("h2", { id: "ins-h" }, "Insights"),
      insights.insights.length ? h("ul", {}, insights.insights.map((i) => h("li", {}, h("strong", {}, i.title), ` — ${i.explanation}`)))
        : h("p", { class: "muted" }, "No insights yet.")));

  const line = (label, data, color) => ({ label, data, borderColor: color, backgroundColor: color, tension: 0.2, pointRadius: 1 });
  chart(volume, { type: "bar", data: { labels: days, datasets: [{ label: "Volume (ETH)", data: series.map((s) => s.volume), backgroundColor: "#0b57d0" }] } });
  chart(price, { type: "line", data: { labels: days, datasets: [line("Average price (ETH)", series.map((s) => (s.tx ? s.priceSum / s.tx : null)), "#0a6b2d")] } });
  chart(creators, { type: "line", data: { labels: days, datasets: [line("Active creators", series.map((s) => s.creators), "#7a4b00")] } });

  let forecastChart = null;
  async function forecast() {
    try {
      const f = await request("GET", "/ai/market/forecast", { query: { asset_type: typeSelect.value, days: 14 } });
      const labels = f.points.map((p) => p.date);
      if (forecastChart) { forecastChart.destroy(); charts.splice(charts.indexOf(forecastChart), 1); }
      chart(forecastCanvas, { type: "line", data: { labels, datasets: [
        line("Forecast volume", f.points.map((p) => Number(p.volume)), "#0b57d0"),
        { ...line("Low", f.points.map((p) => Number(p.volume_low)), "#9db8e8"), borderDash: [4, 4] },
        { ...line("High", f.points.map((p) => Number(p.volume_high)), "#9db8e8"), borderDash: [4, 4], fill: "-1" }] } });
      forecastChart = charts[charts.length - 1];
      replace(forecastBox, h("p", {}, `Sentiment: ${f.sentiment}. `, h("span", { class: "muted" }, `Model ${f.model_version}`)),
        h("ul", {}, f.rules.map((r) => h("li", {}, `${r.name}: ${r.explanation || r.value}`))));
    } catch (err) {
      if (forecastChart) { forecastChart.destroy(); charts.splice(charts.indexOf(forecastChart), 1); forecastChart = null; }
      replace(forecastBox, h("p", { role: "status" }, err.status === 400
        ? `No forecast for ${typeSelect.value} yet: ${err.problem.detail || "not enough market history"}.` : err.message));
    } finally {
      forecastBox.setAttribute("aria-busy", "false");
    }
  }
  typeSelect.addEventListener("change", () => { forecastBox.setAttribute("aria-busy", "true"); forecast(); });
  await forecast();
  return () => { while (charts.length) charts.pop().destroy(); };
}
