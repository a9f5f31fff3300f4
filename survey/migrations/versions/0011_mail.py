"""Mail sending from the browser and across app servers: the latest run of each sending job.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("stopped", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_mail_runs_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_runs")),
        sa.UniqueConstraint("round_id", "kind", name=op.f("uq_mail_runs_round_id")),
    )


def downgrade() -> None:
    op.drop_table("mail_runs")
