"""Progress counts per period, class and subject; urgency; what a teacher still has to enter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portal.dashboard import service
from portal.errors import NotFound
from tests.dashboard.helpers import OPEN_PLAN, counting_statements, save, save_homeroom, set_deadlines
from tests.review.helpers import actor

# Grade 6 (Circular 22, demo curriculum): 13 subjects, each with one mid-term cell per term; the other cells
# of a term (regular assessments + end of term) are 4 + 1 for Ngữ văn, Toán, Tiếng Anh, LS&ĐL, KHTN, HĐTN;
# 2 + 1 for GDCD, Công nghệ, Tin học, Âm nhạc, Mĩ thuật, GDĐP; 3 + 1 for GDTC: 6·5 + 6·3 + 4 = 52.
GK_CELLS, CK_CELLS, HOMEROOM_TERM_KEYS = 13, 52, 3  # per student and term (homeroom: conduct + 2 absences)


@pytest.fixture
def entered(session, app_ctx):
    """Some of 6A1's cells, entered through the gradebook's write path while every period is open (in an app
    context: the dashboard reads the sending endpoints from the configuration)."""
    set_deadlines(session, OPEN_PLAN)
    save(session, "6A1", "toan", "hk1", "gk", range(3))
    save(session, "6A1", "toan", "hk1", "gk", [2], raw="")  # emptied again: no longer counts
    save(session, "6A1", "toan", "hk1", "tx1", range(5))
    save(session, "6A1", "toan", "hk1", "ck", range(2))
    save(session, "6A1", "toan", "hk2", "gk", [0])
    save(session, "6A1", "tinhoc", "hk1", "gk", range(30))  # Tin học's mid-term I: complete
    save_homeroom(session, "6A1", "hk1", "conduct", range(2), "T")
    return session


def _row(board, name):
    return next(r for r in board.classes if r.klass.name == name)


def _item(row, label):
    return next(i for i in row.items if i.label == label)


def test_mid_term_counts_only_mid_term_cells(entered):
    board = service.build_dashboard(entered, period="gk1")
    row = _row(board, "6A1")
    toan, tin = _item(row, "Toán"), _item(row, "Tin học")
    assert (toan.filled, toan.total, toan.percent, toan.status) == (2, 30, 6, "open")
    assert (tin.filled, tin.total, tin.percent, tin.status) == (30, 30, 100, "done")
    assert [i.label for i in row.items][-1] == "Nội dung giáo dục của địa phương"  # no homeroom row mid-term
    assert (row.filled, row.total, row.summary.percent) == (32, 30 * GK_CELLS, 8)  # 3200 / 390 → 8
    assert (board.filled, board.total, board.percent) == (32, 8 * 30 * GK_CELLS, 1)
    other = _row(board, "6A2")
    assert other.filled == 0 and other.total == 30 * GK_CELLS


def test_end_of_term_counts_the_other_cells_and_the_homeroom_entries(entered):
    board = service.build_dashboard(entered, period="ck1")
    row = _row(board, "6A1")
    toan = _item(row, "Toán")
    assert (toan.filled, toan.total, toan.percent) == (7, 30 * 5, 4)  # 5 tx1 + 2 ck of 150: 4.67 → 4
    homeroom = _item(row, "Mục chủ nhiệm")
    assert homeroom.subject is None and homeroom.teacher == "Nguyễn Thị Hoa"
    assert (homeroom.filled, homeroom.total, homeroom.percent) == (2, 30 * HOMEROOM_TERM_KEYS, 2)
    assert (row.filled, row.total) == (9, 30 * (CK_CELLS + HOMEROOM_TERM_KEYS))
    assert _item(row, "Tin học").filled == 0  # its mid-term cells belong to gk1


def test_whole_year_counts_both_terms_and_the_year_comment(entered):
    row = _row(service.build_dashboard(entered, period="cn"), "6A1")
    toan = _item(row, "Toán")
    assert (toan.filled, toan.total, toan.percent) == (10, 30 * 12, 2)
    assert toan.gaps == ("hk1", "hk2") and toan.term == "hk1"
    homeroom = _item(row, "Mục chủ nhiệm")
    assert (homeroom.filled, homeroom.total) == (2, 30 * (2 * HOMEROOM_TERM_KEYS + 1))
    assert (row.filled, row.total, row.summary.percent) == (42, 30 * (2 * (GK_CELLS + CK_CELLS) + 7), 1)


def test_open_flags_are_counted_per_class_and_subject(entered):
    from portal.review.service import add_flag
    from tests.review.helpers import current_class, subject

    klass = current_class(entered, "6A1")
    head = actor(entered, "vinhtd")  # heads Tổ Toán – Tin
    for note in ("Kiểm tra lại điểm giữa kì.", "Thiếu điểm thường xuyên."):
        add_flag(session=entered, actor=head, class_id=klass.id, subject_id=subject(entered, klass, "toan").id,
                 term="hk1", note=note)
    entered.commit()
    board = service.build_dashboard(entered, period="gk1")
    assert _item(_row(board, "6A1"), "Toán").flags == 2
    assert _row(board, "6A1").flags == 2 and board.flags == 2


def test_default_period_is_the_next_deadline(entered):
    assert service.build_dashboard(entered).period.code == "gk1"
    set_deadlines(entered, {"gk1": -1})
    board = service.build_dashboard(entered)
    assert board.default_period == "ck1" and board.period.code == "ck1"
    set_deadlines(entered, {"gk1": -90, "ck1": -60, "gk2": -30, "ck2": -2, "cn": -1})
    assert service.build_dashboard(entered).period.code == "cn"  # all passed: the last one
    set_deadlines(entered, {"gk1": -90, "ck1": -60, "gk2": -30, "ck2": 5, "cn": 5})
    assert service.build_dashboard(entered).period.code == "ck2"  # a tie goes to the earlier period


def test_unknown_period_is_refused(entered):
    with pytest.raises(NotFound):
        service.build_dashboard(entered, period="hk1")


@pytest.mark.parametrize(("days", "status"), [(-1, "late"), (0, "soon"), (7, "soon"), (8, "open")])
def test_unfinished_items_are_late_after_the_deadline_or_soon_within_seven_days(entered, days, status):
    set_deadlines(entered, {"gk1": days})
    row = _row(service.build_dashboard(entered, period="gk1"), "6A1")
    assert _item(row, "Toán").status == status
    assert _item(row, "Tin học").status == "done"  # complete: never late
    assert row.summary.status == status


def test_the_deadline_passes_at_midnight_vietnam_time(entered):
    today = set_deadlines(entered, {"gk1": 0})
    evening = datetime.combine(today, datetime.min.time(), tzinfo=service.periods.VN) + timedelta(hours=23, minutes=59)
    assert _item(_row(service.build_dashboard(entered, period="gk1", now=evening), "6A1"), "Toán").status == "soon"
    after = evening + timedelta(minutes=2)
    assert _item(_row(service.build_dashboard(entered, period="gk1", now=after), "6A1"), "Toán").status == "late"


def test_year_deadlines_with_days_left(entered):
    today = service.today_vn()
    board = service.build_dashboard(entered)
    labels = [d.label for d in board.deadlines]
    assert labels == ["Hoàn thành nhập dữ liệu cả năm", "Hoàn thành ký học bạ lớp 9 (lớp cuối cấp)",
                      "Hoàn thành ký học bạ", "Hoàn thành gửi học bạ về CSDL của Bộ"]
    sending = board.deadlines[-1]
    assert (sending.due.day, sending.due.month) == (20, 8) and sending.days_left == (sending.due - today).days
    assert board.deadlines[0].days_left == 150


def test_urgent_items_put_the_overdue_first_one_per_class_and_subject(entered):
    set_deadlines(entered, {"gk1": -1, "ck1": 3})
    items, total = service.urgent_items(entered)
    assert total == 8 * 13 + 8  # every (class, subject) and every class's homeroom entries, once each
    assert len(items) == 5 and all(i.status == "late" and i.period.code == "gk1" for i in items)
    assert [(i.klass.name, i.label) for i in items][:2] == [("6A1", "Ngữ văn"), ("6A1", "Tiếng Anh")]
    set_deadlines(entered, OPEN_PLAN)
    assert service.urgent_items(entered) == ([], 0)


def test_teacher_pending_lists_unfinished_pairs_of_the_next_period(entered):
    pending = service.teacher_pending(entered, actor=actor(entered, "tuanlm"))  # Tin học in all 8 classes
    assert pending.period.code == "gk1" and pending.checked == 8
    assert [i.klass.name for i in pending.items] == ["6A2", "7A1", "7A2", "8A1", "8A2", "9A1", "9A2"]
    assert all(i.subject.code == "tinhoc" and i.term == "hk1" for i in pending.items)
    assert pending.overdue == []

    set_deadlines(entered, {"gk1": -1})
    pending = service.teacher_pending(entered, actor=actor(entered, "tuanlm"))
    assert pending.period.code == "ck1" and len(pending.items) == 8
    assert [i.klass.name for i in pending.overdue] == ["6A2", "7A1", "7A2", "8A1", "8A2", "9A1", "9A2"]


def test_homeroom_pending_skips_the_mid_term_periods(entered):
    pending = service.homeroom_pending(entered, actor=actor(entered, "hoant"))
    assert pending.period.code == "ck1"
    [item] = pending.items
    assert (item.klass.name, item.subject, item.filled, item.total, item.term) == ("6A1", None, 2, 90, "hk1")


def test_counting_takes_a_fixed_number_of_queries(app, entered):
    with counting_statements(app) as statements:
        entered.expire_all()
        board = service.build_dashboard(entered, period="cn")
    assert len(board.items) == 8 * 14
    assert len(statements) <= 16, f"{len(statements)} queries: counting must not go per class or per student"
