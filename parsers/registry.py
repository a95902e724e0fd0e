"""The explicit mapping of parser kinds. An unknown kind in config is a startup error."""

from __future__ import annotations

from collections.abc import Mapping

from parsers.alertmanager import AlertmanagerParser
from parsers.base import ParserFactory
from parsers.email import EmailParser
from parsers.generic import GenericParser
from parsers.grafana import GrafanaParser
from parsers.nagios import NagiosParser
from parsers.zabbix import ZabbixParser

PARSERS: Mapping[str, ParserFactory] = {
    "generic": GenericParser.from_options,
    "alertmanager": AlertmanagerParser.from_options,
    "grafana": GrafanaParser.from_options,
    "zabbix": ZabbixParser.from_options,
    "nagios": NagiosParser.from_options,
    "icinga": NagiosParser.from_options,
    # mailboxes use it; as a webhook kind it takes raw RFC 5322 mail (message/rfc822)
    "email": EmailParser.from_options,
}
