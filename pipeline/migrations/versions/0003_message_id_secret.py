"""a random secret per account, mixed into the Message-IDs it writes; where a meeting is

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("message_id_secret", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    accounts = sa.table("accounts", sa.column("id", sa.Integer), sa.column("message_id_secret"))
    for (account_id,) in connection.execute(sa.select(accounts.c.id)).all():
        connection.execute(
            accounts.update()
            .where(accounts.c.id == account_id)
            .values(message_id_secret=secrets.token_hex(16))
        )
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column("message_id_secret", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("location", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.drop_column("location")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("message_id_secret")
