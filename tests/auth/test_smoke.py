import pytest

from tests.conftest import ROLE_USERS


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_each_role_lands_on_its_home(login_as, role):
    client = login_as(role)
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'id="home-{role}"' in html
    assert "Việc cần làm" in html
