"""Participation snapshots, and releases that the database itself refuses to change.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE FUNCTION candor_release_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'released manifests are immutable';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "participation_snapshots",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("pct_rounded", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_participation_snapshots_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("round_id", "day", name=op.f("pk_participation_snapshots")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER releases_immutable BEFORE UPDATE ON releases "
            "FOR EACH ROW EXECUTE FUNCTION candor_release_immutable()"
        )
    else:
        op.execute(
            "CREATE TRIGGER releases_immutable BEFORE UPDATE ON releases "
            "BEGIN SELECT RAISE(ABORT, 'released manifests are immutable'); END"
        )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS releases_immutable"
        + (" ON releases" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS candor_release_immutable()")
    op.drop_table("participation_snapshots")
