"""deploy/grafana/visitdesk.json: well-formed panels whose PromQL parses and names real metrics."""

import ast
import json
from pathlib import Path

import promql_parser
import pytest

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "visitdesk.json"
# What the issue asks the dashboard to show.
REQUIRED = {
    "visitdesk_http_request_seconds_bucket",
    "visitdesk_outbox_backlog",
    "visitdesk_outbox_oldest_age_seconds",
    "visitdesk_consumer_lag",
    "visitdesk_events_handled_total",
    "visitdesk_events_failed_total",
    "visitdesk_events_dead_lettered_total",
    "visitdesk_deliveries_total",
}
SUFFIXES = {
    "Counter": ["_total"],
    "Gauge": [""],
    "Histogram": ["_bucket", "_count", "_sum"],
    "Summary": ["_count", "_sum"],
}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "6h", "$service": ".*"}


def defined_metrics() -> dict[str, set[str]]:
    """Series names the code can expose, with their labels, read from the metric definitions."""
    series = {}
    for path in [*ROOT.glob("shared/*.py"), *ROOT.glob("services/*/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in SUFFIXES
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                kind, name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr, node.args[0].value
                labels = next((ast.literal_eval(a) for a in node.args[2:3]), None) or next(
                    (ast.literal_eval(k.value) for k in node.keywords if k.arg == "labelnames"), []
                )
                base = name.removesuffix("_total") if kind == "Counter" else name
                for suffix in SUFFIXES[kind]:
                    series[base + suffix] = set(labels) | ({"le"} if suffix == "_bucket" else set())
    return series


def panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def queries(dashboard: dict) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in panels(dashboard) for target in panel["targets"]]


def parse(expr: str):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return promql_parser.parse(expr)


def selectors_and_groupings(expr) -> tuple[list, list[tuple[list[str], list]]]:
    """Every metric selector, and each `by (...)` label list with the selectors beneath it."""
    selectors, groupings = [], []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            selectors.append(node)
        if (
            isinstance(node, promql_parser.AggregateExpr)
            and node.modifier is not None
            and node.modifier.type == promql_parser.AggModifierType.By
        ):
            beneath, _ = selectors_and_groupings(node.expr)
            groupings.append((node.modifier.labels, beneath))

    promql_parser.walk(expr, pre_visit=visit)
    return selectors, groupings


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_dashboard_is_importable_json_with_a_stable_uid(dashboard):
    assert dashboard["uid"] == "visitdesk" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "service"}


def test_panels_have_unique_ids_and_do_not_overlap(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


def test_every_panel_queries_the_chosen_prometheus(dashboard):
    for panel in panels(dashboard):
        assert panel["targets"], panel["title"]
        for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert source == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_every_query_is_valid_promql(dashboard):
    for title, expr in queries(dashboard):
        try:
            parse(expr)
        except ValueError as error:
            pytest.fail(f"{title}: {error}")


def test_every_query_names_metrics_and_labels_the_code_defines(dashboard):
    metrics = defined_metrics()
    for title, expr in queries(dashboard):
        selectors, groupings = selectors_and_groupings(parse(expr))
        for selector in selectors:
            assert selector.name in metrics, f"{title}: {selector.name} is not defined in the code"
            used = {m.name for m in selector.matchers.matchers}
            assert used <= metrics[selector.name], (
                f"{title}: {selector.name} has no label {used - metrics[selector.name]}"
            )
        for labels, beneath in groupings:
            for selector in beneath:
                assert set(labels) <= metrics[selector.name], f"{title}: {selector.name} has no {labels}"


def test_dashboard_shows_every_metric_the_issue_asks_for(dashboard):
    shown = {s.name for _, expr in queries(dashboard) for s in selectors_and_groupings(parse(expr))[0]}
    assert REQUIRED <= shown


def test_latency_is_shown_as_p50_p95_and_p99_by_service_and_route(dashboard):
    latency = [expr for _, expr in queries(dashboard) if "histogram_quantile" in expr and "route" in expr]
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(f"histogram_quantile({quantile}, sum by (le, service, route)" in expr for expr in latency), quantile


def test_the_checks_catch_an_unknown_metric_and_a_missing_label():
    metrics = defined_metrics()
    selectors, groupings = selectors_and_groupings(parse("sum by (tenant) (rate(visitdesk_events_handled_total[5m]))"))
    assert not set(groupings[0][0]) <= metrics[selectors[0].name]
    assert "visitdesk_outbox_backlogs" not in metrics
