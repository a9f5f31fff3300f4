"""Unlinkable ballots: per-label blind-signature keys, check-ins, the spent set, the inbox,
the mixing clock, the link key on invitations and the programme's "unlinkable required" setting.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ballot_keys",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_private_key", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_ballot_keys_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_ballot_keys_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("round_id", "key_id", name=op.f("pk_ballot_keys")),
    )
    op.create_table(
        "check_ins",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("blinded_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("blind_signature", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_check_ins_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_check_ins")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_ins_round_id"), ["round_id"], unique=False)
    op.create_table(
        "spent_ballots",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("replay_digest", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_spent_ballots_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_spent_ballots")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("spent_ballots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_ballots_round_id"), ["round_id"], unique=False)
    op.create_table(
        "ballot_inbox",
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_ballot_inbox_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_ballot_inbox_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot_inbox")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("ballot_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballot_inbox_round_id"), ["round_id"], unique=False)
    op.create_table(
        "round_mixes",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("mixed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_round_mixes_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_round_mixes")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "unlinkable_required", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("unlinkable_required")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("key_id")
    op.drop_table("round_mixes")
    with op.batch_alter_table("ballot_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballot_inbox_round_id"))
    op.drop_table("ballot_inbox")
    with op.batch_alter_table("spent_ballots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_ballots_round_id"))
    op.drop_table("spent_ballots")
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_ins_round_id"))
    op.drop_table("check_ins")
    op.drop_table("ballot_keys")
