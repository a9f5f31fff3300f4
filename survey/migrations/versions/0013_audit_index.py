"""The audit trail indexed by detail and action: every survey page lists its round's link
hand-outs from it, and without the index each page view read the whole trail.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_detail_action", "audit_events", ["detail", "action"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_detail_action", table_name="audit_events")
