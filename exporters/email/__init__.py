"""Alert mail of DESIGN section 12: what a flip says, rendered, and sent over SMTP."""

from exporters.email.notice import Notice
from exporters.email.render import alert_message, message_id, subject, test_message
from exporters.email.smtp import SmtpTransport

__all__ = ["Notice", "SmtpTransport", "alert_message", "message_id", "subject", "test_message"]
