"""The chain of signatures against the signer list of the embedded data: pure, no app."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from portal.public.service import check_chain
from portal.transcripts.data import Signer

SIGNERS = [Signer(1, 1, "subject", 11, "Lan", "001000000011", ("Ngữ văn",)),
           Signer(2, 1, "subject", 12, "Hoa", "001000000012", ("Toán",)),
           Signer(3, 2, "homeroom", 12, "Hoa", "001000000012"),
           Signer(4, 3, "principal", 13, "Thành", "001000000013"),
           Signer(5, 4, "school", None, "Trường", "79000001")]


def sig(position: int, personal_id: str | None = None, field: str | None = None):
    signer = SIGNERS[position - 1]
    return SimpleNamespace(signer_name=signer.name, personal_id=personal_id or signer.personal_id,
                           field_name=field or signer.field_name)


@pytest.mark.parametrize("order, complete, in_order, missing, extra, disorder", [
    ([1, 2, 3, 4, 5], True, True, 0, 0, 0),
    ([2, 1, 3, 4, 5], True, True, 0, 0, 0),  # subject teachers sign in any order among themselves
    ([1, 2, 4, 3, 5], True, False, 0, 0, 1),  # the principal before the homeroom teacher
    ([1, 3, 2, 4, 5], True, False, 0, 0, 1),  # a homeroom signature before a subject one
    ([1, 2, 3, 4], False, True, 1, 0, 0),  # the school seal is missing
    ([], False, True, 5, 0, 0),
])
def test_chain(order, complete, in_order, missing, extra, disorder):
    chain, matched = check_chain([sig(p) for p in order], SIGNERS)
    assert (chain.complete, chain.in_order) == (complete, in_order)
    assert (len(chain.missing), len(chain.extra), len(chain.disorder)) == (missing, extra, disorder)
    assert [m.position for m in matched] == order


def test_a_stranger_is_an_extra_signature_and_the_holder_of_two_roles_is_matched_by_field():
    signatures = [sig(1), sig(2), sig(3), sig(4), sig(5), sig(4, personal_id="009999999999")]
    chain, matched = check_chain(signatures, SIGNERS)
    assert not chain.complete and chain.extra and "009999999999" in chain.extra[0]
    assert matched[-1] is None and [m.role for m in matched[1:3]] == ["subject", "homeroom"]


def test_a_signature_in_someone_elses_field_is_reported():
    signatures = [sig(1), sig(2), sig(3), sig(4, field=SIGNERS[4].field_name), sig(5, field=SIGNERS[3].field_name)]
    chain, _ = check_chain(signatures, SIGNERS)
    assert chain.complete and not chain.in_order and len(chain.disorder) == 2
