"""Releases: the digest stored before the manifest, so reading it never reads the manifest.

Every results request reads its programme's release ids and digests (they key what a process
keeps, :mod:`survey.services.scope`). SQLite stores a row's columns in table order, and a
manifest of a few hundred KB spills into overflow pages: with the digest after it, each read
walked the whole manifest (2-5 ms a request at 24 rounds). On SQLite the table is rebuilt with
the digest before the manifest; PostgreSQL keeps a large value out of line (TOAST) already, so
there is nothing to do there.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

DIGEST_FIRST = ("id", "round_id", "released_on", "digest", "manifest", "atom_counts")
DIGEST_LAST = ("id", "round_id", "released_on", "manifest", "digest", "atom_counts")
# Releases stay immutable (0002's trigger), which a rebuilt SQLite table would lose.
SQLITE_IMMUTABLE = (
    "CREATE TRIGGER IF NOT EXISTS releases_immutable BEFORE UPDATE ON releases "
    "BEGIN SELECT RAISE(ABORT, 'released manifests are immutable'); END"
)


def _reorder(columns: tuple[str, ...]) -> None:
    """Rebuild SQLite's releases table with its columns in ``columns``' order."""
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "releases", recreate="always", partial_reordering=[columns]
    ) as batch_op:
        del batch_op  # the rebuild itself is the change
    op.execute(SQLITE_IMMUTABLE)


def upgrade() -> None:
    _reorder(DIGEST_FIRST)


def downgrade() -> None:
    _reorder(DIGEST_LAST)
