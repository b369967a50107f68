"""Timeliness reporting: the weekly summary, its chart, and the annual report's response figures.

- `weekly.compute_weekly(engine_or_session, "2026-W47", "Asia/Shanghai", now=...)` → `WeeklySummary`
- `render.render_weekly_text / render_weekly_csv / render_weekly_json(summary)` → str
- `chart.render_chart(summary)` → PNG bytes (imports matplotlib; import it only when drawing)
- `annual.compute_annual(engine_or_session, 2026, "Asia/Shanghai", now=...)` → `AnnualFigures`
- `annual.render_annual_text / render_annual_csv(figures)` → str

Definitions of every figure: docs/reference.md, "Weekly summary and annual figures".
"""
