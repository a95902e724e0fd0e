"""The portal's words in English and Chinese, and which language a request gets."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.portal.config import Language

LANGUAGES: tuple[Language, ...] = ("en", "zh")

_EN: Mapping[str, str] = {
    "html_lang": "en",
    "status_page": "Status of your request",
    "status": "Status",
    "priority": "Priority",
    "type": "Type",
    "opened": "Reported",
    "response_due": "Expected response by",
    "resolution_due": "Expected resolution by",
    "resolved_at": "Resolved",
    "not_set": "not set",
    "history": "History",
    "no_history": "Nothing to show yet.",
    "status.new": "New",
    "status.acknowledged": "In progress",
    "status.resolved": "Resolved",
    "status.closed": "Closed",
    "priority.P1": "P1 critical",
    "priority.P2": "P2 high",
    "priority.P3": "P3 medium",
    "priority.P4": "P4 low",
    "type.incident": "Incident",
    "type.service_request": "Service request",
    "type.complaint": "Complaint",
    "type.change_request": "Change request",
    "kind.opened": "Recorded",
    "kind.acknowledged": "Taken in hand",
    "kind.resolved": "Resolved",
    "kind.reopened": "Reopened",
    "kind.closed": "Closed",
    "kind.priority_raised": "Priority raised",
    "kind.comment": "Message",
    "kind.rated": "Rated",
    "forbidden_title": "This link does not work",
    "forbidden.tampered": "The link is not valid: it may have been cut or changed on the way.",
    "forbidden.expired": "The link has expired.",
    "forbidden.gone": "This request is no longer kept.",
    "forbidden_help": "Reply to the last mail about your request to get a new link, "
    "or contact the service desk.",
    "footer": "This page is shown to the person who reported the request.",
    "language": "中文",
    "solved_question": "Is your problem solved?",
    "solved_button": "Yes, it is solved",
    "comment_label": "Add information or answer the service desk",
    "comment_button": "Send",
    "sent.comment": "Your message was received; it is added to the request.",
    "sent.solved": "Thank you: the request is marked solved.",
    "error.empty": "Please write a message first.",
    "error.too_long": "The message is too long (at most 10,000 characters).",
    "error.unavailable": "It could not be saved just now; nothing was recorded. Please try again.",
    "error.rate_limited": "Too many messages in a short time; please wait a minute.",
    "error.not_open": "The request is no longer open.",
}

_ZH: Mapping[str, str] = {
    "html_lang": "zh-CN",
    "status_page": "您的请求处理状态",
    "status": "状态",
    "priority": "优先级",
    "type": "类型",
    "opened": "报告时间",
    "response_due": "预计响应时间",
    "resolution_due": "预计解决时间",
    "resolved_at": "解决时间",
    "not_set": "未设定",
    "history": "处理记录",
    "no_history": "暂无记录。",
    "status.new": "新建",
    "status.acknowledged": "处理中",
    "status.resolved": "已解决",
    "status.closed": "已关闭",
    "priority.P1": "P1 严重",
    "priority.P2": "P2 高",
    "priority.P3": "P3 中",
    "priority.P4": "P4 低",
    "type.incident": "事件",
    "type.service_request": "服务请求",
    "type.complaint": "投诉",
    "type.change_request": "变更请求",
    "kind.opened": "已登记",
    "kind.acknowledged": "已受理",
    "kind.resolved": "已解决",
    "kind.reopened": "已重新打开",
    "kind.closed": "已关闭",
    "kind.priority_raised": "优先级已提高",
    "kind.comment": "留言",
    "kind.rated": "已评价",
    "forbidden_title": "此链接无法使用",
    "forbidden.tampered": "链接无效：可能在传递中被截断或改动。",
    "forbidden.expired": "链接已过期。",
    "forbidden.gone": "此请求已不再保存。",
    "forbidden_help": "请回复关于此请求的最后一封邮件以获取新链接，或联系服务台。",
    "footer": "此页面仅供报告此请求的人查看。",
    "language": "English",
    "solved_question": "您的问题已经解决了吗？",
    "solved_button": "是的，已解决",
    "comment_label": "补充信息或回复服务台",
    "comment_button": "发送",
    "sent.comment": "已收到您的留言，已添加到此请求。",
    "sent.solved": "谢谢：此请求已标记为已解决。",
    "error.empty": "请先填写留言。",
    "error.too_long": "留言过长（最多 10,000 个字符）。",
    "error.unavailable": "暂时无法保存，未记录任何内容。请稍后重试。",
    "error.rate_limited": "短时间内提交过多，请稍等一分钟。",
    "error.not_open": "此请求已不再处于打开状态。",
}

CATALOGUES: Mapping[Language, Mapping[str, str]] = {"en": _EN, "zh": _ZH}


def choose(asked: str | None, accept_language: str, default: Language) -> Language:
    """``?lang=`` if it names a language we have, else the first of the browser's
    languages we have (zh-CN, zh-TW and zh all read Chinese), else ``default``."""
    if asked in LANGUAGES:
        return asked
    for part in accept_language.split(","):
        tag = part.split(";", 1)[0].strip().lower()
        primary = tag.split("-", 1)[0]
        if primary in LANGUAGES:
            return primary
    return default


def translator(language: Language) -> Mapping[str, str]:
    return CATALOGUES[language]
