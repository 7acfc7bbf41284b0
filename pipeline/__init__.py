"""outreach-pipeline: informational-interview outreach through your own mailbox and calendar."""

__version__ = "0.1.0"
