"""indexes for the look-ups a sync and a draft make: a contact's addresses, and the
outreach of an account and an address

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_contact_emails_contact_id"), "contact_emails", ["contact_id"], unique=False
    )
    op.create_index(
        "ix_outreaches_account_id_email", "outreaches", ["account_id", "email"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outreaches_account_id_email", table_name="outreaches")
    op.drop_index(op.f("ix_contact_emails_contact_id"), table_name="contact_emails")
