"""What a CRM connector raises."""


class CrmError(Exception):
    """The CRM refused a request or did not answer; the message is one line saying what to do."""
