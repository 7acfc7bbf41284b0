"""skipped inputs; a digest is recorded per destination; an account can be unavailable

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("unavailable_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("unavailable_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "skipped_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=20), nullable=False),
        sa.Column("ref", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_skipped_inputs_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skipped_inputs")),
        sa.UniqueConstraint(
            "account_id", "stream", "ref", name=op.f("uq_skipped_inputs_account_id")
        ),
    )
    # Once a day per destination: the destination joins the key (SQLite rebuilds the table).
    with op.batch_alter_table("digests", recreate="always") as batch:
        batch.drop_constraint("pk_digests", type_="primary")
        batch.create_primary_key("pk_digests", ["account_id", "day", "destination"])


def downgrade() -> None:
    # The old key holds one row per account and day: forget the delivery records (at
    # worst a digest of that day is delivered once more).
    op.execute("DELETE FROM digests")
    with op.batch_alter_table("digests", recreate="always") as batch:
        batch.drop_constraint("pk_digests", type_="primary")
        batch.create_primary_key("pk_digests", ["account_id", "day"])
    op.drop_table("skipped_inputs")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("unavailable_since")
        batch.drop_column("unavailable_reason")
