"""Custody of round opening keys (custodian quorum) and retention/shredding.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# Releases stay immutable (0002's trigger), whatever a rebuilt SQLite table would lose.
SQLITE_IMMUTABLE = (
    "CREATE TRIGGER IF NOT EXISTS releases_immutable BEFORE UPDATE ON releases "
    "BEGIN SELECT RAISE(ABORT, 'released manifests are immutable'); END"
)


def upgrade() -> None:
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("custody", sa.String(length=16), nullable=False, server_default="INSTANCE")
        )
        batch_op.add_column(
            sa.Column("custody_quorum", sa.Integer(), nullable=False, server_default="2")
        )
        batch_op.add_column(
            sa.Column("retention_days", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shred_after", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("shredded_on", sa.Date(), nullable=True))
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("atom_counts", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_IMMUTABLE)
    op.create_table(
        "custodians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=254), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_custodians_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custodians")),
        sa.UniqueConstraint("program_id", "label", name=op.f("uq_custodians_program_id")),
    )
    with op.batch_alter_table("custodians", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custodians_program_id"), ["program_id"], unique=False)
    op.create_table(
        "round_custody",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("quorum", sa.Integer(), nullable=False),
        sa.Column("wrapped_private_key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_round_custody_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_round_custody")),
    )
    for table in ("custody_shares", "pending_shares"):
        extra = (
            [sa.Column("sealed", sa.LargeBinary(), nullable=False)]
            if table == "custody_shares"
            else [
                sa.Column("wrapped", sa.LargeBinary(), nullable=False),
                sa.Column("expires_at", sa.DateTime(), nullable=False),
            ]
        )
        op.create_table(
            table,
            sa.Column("round_id", sa.Integer(), nullable=False),
            sa.Column("custodian_id", sa.Integer(), nullable=False),
            *extra,
            sa.ForeignKeyConstraint(
                ["custodian_id"],
                ["custodians.id"],
                name=op.f(f"fk_{table}_custodian_id_custodians"),
            ),
            sa.ForeignKeyConstraint(
                ["round_id"], ["rounds.id"], name=op.f(f"fk_{table}_round_id_rounds")
            ),
            sa.PrimaryKeyConstraint("round_id", "custodian_id", name=op.f(f"pk_{table}")),
        )


def downgrade() -> None:
    op.drop_table("pending_shares")
    op.drop_table("custody_shares")
    op.drop_table("round_custody")
    with op.batch_alter_table("custodians", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custodians_program_id"))
    op.drop_table("custodians")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("atom_counts")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's batch mode rebuilt the table without the trigger 0002 created: restore it.
        op.execute(SQLITE_IMMUTABLE)
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_column("shredded_on")
        batch_op.drop_column("shred_after")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("retention_days")
        batch_op.drop_column("custody_quorum")
        batch_op.drop_column("custody")
