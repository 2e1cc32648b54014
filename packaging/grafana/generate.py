#!/usr/bin/env python3
"""Writes mailagent.json, the Grafana dashboard (run: python3 packaging/grafana/generate.py).

The dashboard is generated so that every panel has the same shape; edit this file, not the JSON.
"""
import json
import os

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SEL = 'instance=~"$instance"'
panels = []
y = 0


def row(title):
    global y
    panels.append({"type": "row", "title": title, "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                   "id": len(panels) + 1, "panels": []})
    y += 1


def panel(kind, title, targets, x, w, h=8, unit=None, description="", extra=None):
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "id": len(panels) + 1,
        "targets": [
            {"datasource": DS, "refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {"defaults": {"unit": unit or "short"}, "overrides": []},
        "options": {},
    }
    if extra:
        p.update(extra)
    panels.append(p)


def next_line(h=8):
    global y
    y += h


row("Agent")
panel("stat", "Agent up", [(f'up{{job="mailagent",{SEL}}}', "{{instance}}")], 0, 6, unit="none",
      description="1 when Prometheus scrapes the agent.")
panel("state-timeline", "Health checks (1 healthy, 0.5 degraded, 0 unhealthy)",
      [(f"mailagent_health_check_status{{{SEL}}}", "{{instance}} {{check}}")], 6, 18, unit="none")
next_line()
panel("timeseries", "Log lines read per second", [(f"sum by (instance) (rate(mailagent_log_lines_total{{{SEL}}}[$__rate_interval]))", "{{instance}}"),
      (f"sum by (instance) (rate(mailagent_log_lines_unparsed_total{{{SEL}}}[$__rate_interval]))", "{{instance}} unparsed")], 0, 8, unit="ops")
panel("timeseries", "Unread log bytes", [(f"mailagent_log_lag_bytes{{{SEL}}}", "{{instance}}")], 8, 8, unit="bytes")
panel("timeseries", "Age of the newest log line", [(f"time() - mailagent_log_last_line_timestamp_seconds{{{SEL}}}", "{{instance}}")], 16, 8, unit="s")
next_line()

row("Delivery")
panel("timeseries", "Delivery attempts per second by status (smtp, lmtp)",
      [(f'sum by (status) (rate(postfix_delivery_status_total{{service=~"smtp|lmtp",{SEL}}}[$__rate_interval]))', "{{status}}")], 0, 12, unit="ops")
panel("timeseries", "Bounce and deferral ratio (15 min)", [
    (f'sum by (instance) (rate(postfix_delivery_status_total{{service=~"smtp|lmtp",status="bounced",{SEL}}}[15m])) / sum by (instance) (rate(postfix_delivery_status_total{{service=~"smtp|lmtp",status=~"sent|bounced|deferred",{SEL}}}[15m]))', "{{instance}} bounced"),
    (f'sum by (instance) (rate(postfix_delivery_status_total{{service=~"smtp|lmtp",status="deferred",{SEL}}}[15m])) / sum by (instance) (rate(postfix_delivery_status_total{{service=~"smtp|lmtp",status=~"sent|bounced|deferred",{SEL}}}[15m]))', "{{instance}} deferred"),
], 12, 12, unit="percentunit", description="The alerts fire above 10% bounced and 30% deferred with at least 20 attempts.")
next_line()
panel("timeseries", "Deferrals and bounces by DSN class", [
    (f"sum by (dsn_class) (rate(postfix_smtp_deferred_messages_by_dsn_total{{{SEL}}}[$__rate_interval]))", "deferred {{dsn_class}}"),
    (f"sum by (dsn_class) (rate(postfix_smtp_bounced_messages_by_dsn_total{{{SEL}}}[$__rate_interval]))", "bounced {{dsn_class}}"),
], 0, 12, unit="ops")
panel("timeseries", "Message latency, received to final status (p50, p95)", [
    (f"histogram_quantile(0.5, sum by (le, outcome) (rate(postfix_message_latency_seconds_bucket{{{SEL}}}[$__rate_interval])))", "p50 {{outcome}}"),
    (f"histogram_quantile(0.95, sum by (le, outcome) (rate(postfix_message_latency_seconds_bucket{{{SEL}}}[$__rate_interval])))", "p95 {{outcome}}"),
], 12, 12, unit="s")
next_line()
panel("timeseries", "Inbound: connections and rejects", [
    (f"sum (rate(postfix_smtpd_connects_total{{{SEL}}}[$__rate_interval]))", "connects"),
    (f"sum by (stage) (rate(postfix_smtpd_messages_rejected_total{{{SEL}}}[$__rate_interval]))", "rejected at {{stage}}"),
], 0, 12, unit="ops")
panel("timeseries", "DKIM: signatures per message through cleanup", [
    (f"sum by (instance) (rate(opendkim_signatures_added_total{{{SEL}}}[15m])) / sum by (instance) (rate(postfix_cleanup_messages_processed_total{{{SEL}}}[15m]))", "{{instance}} signed"),
    (f"sum by (kind) (rate(opendkim_errors_total{{{SEL}}}[$__rate_interval]))", "errors {{kind}}"),
], 12, 12, unit="percentunit", description="DkimNotSigning fires below 50% over 30 minutes.")
next_line()

row("Queue")
panel("timeseries", "Queue depth", [(f"sum by (queue) (postfix_showq_queue_depth{{{SEL}}})", "{{queue}}")], 0, 8, unit="short")
panel("timeseries", "Oldest message by queue", [(f"max by (queue) (postfix_showq_oldest_message_age_seconds{{{SEL}}})", "{{queue}}")], 8, 8, unit="s")
panel("timeseries", "Deferred recipients by reason", [(f"sum by (reason_class) (postfix_deferred_by_reason{{{SEL}}})", "{{reason_class}}")], 16, 8, unit="short")
next_line()
panel("bargauge", "Deferred recipients by domain", [(f"sum by (domain) (postfix_deferred_by_domain{{{SEL}}})", "{{domain}}")], 0, 12, unit="short")
panel("timeseries", "Queue inspector", [
    (f"mailagent_queue_scrape_success{{{SEL}}}", "{{instance}} success"),
    (f"mailagent_queue_snapshot_age_seconds{{{SEL}}}", "{{instance}} snapshot age"),
], 12, 12, unit="short")
next_line()

row("Certificates and configuration")
panel("table", "Certificate time left", [(f"mailagent_tls_certificate_expiry_seconds{{{SEL}}}", "{{instance}} {{path}}")], 0, 12, unit="s",
      extra={"options": {"showHeader": True}})
panel("timeseries", "Configuration applies by result", [(f"sum by (result) (increase(mailagent_config_applies_total{{{SEL}}}[1h]))", "{{result}}")], 12, 12, unit="short")
next_line()

row("Control plane")
panel("state-timeline", "Provider state", [('max by (provider, state) (mailagent_cp_provider_state) == 1', "{{provider}} {{state}}")], 0, 12, unit="none")
panel("timeseries", "Provider health score", [("mailagent_cp_provider_score", "{{provider}}")], 12, 12, unit="none",
      description="0-100; degraded below 70, failed below 40 (health-score design).")
next_line()

dashboard = {
    "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
    "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
                   {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
    "title": "MailAgent",
    "uid": "mailagent",
    "description": "Postfix hosts watched by MailAgent, and the control plane's provider scores.",
    "tags": ["mailagent", "postfix"],
    "timezone": "utc",
    "schemaVersion": 37,
    "version": 1,
    "editable": True,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [{
        "name": "instance", "label": "Host", "type": "query", "datasource": DS,
        "query": {"query": 'label_values(up{job="mailagent"}, instance)', "refId": "instance"},
        "definition": 'label_values(up{job="mailagent"}, instance)',
        "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }]},
    "annotations": {"list": []},
    "panels": panels,
}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mailagent.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(dashboard, f, indent=2)
    f.write("\n")
