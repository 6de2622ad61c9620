"""verify attempts: public verifications counted per client for rate limiting

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:46:09.266158
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('verify_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verify_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verify_attempts_at'), ['at'], unique=False)
        batch_op.create_index('ix_verify_attempts_client_at', ['client', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('verify_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_verify_attempts_client_at')
        batch_op.drop_index(batch_op.f('ix_verify_attempts_at'))

    op.drop_table('verify_attempts')
