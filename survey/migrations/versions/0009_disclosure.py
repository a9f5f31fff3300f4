"""Disclosure across rounds and optional differential privacy.

A programme's differential-privacy budget per release (NULL: off, the default), frozen into
each round when it opens.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dp_epsilon", sa.Float(), nullable=True))
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dp_epsilon", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_column("dp_epsilon")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("dp_epsilon")
