"""The Wikimedia double's test users: one record per user, as the profile endpoint describes them.

Every user logs in with the password DEFAULT_PASSWORD unless the record names its own. `sub` is
the central user id (CentralAuth's global id on Wikimedia wikis). `registered` is a MediaWiki
timestamp (YYYYMMDDHHMMSS, UTC) or None (accounts older than registration tracking); the
callable form is evaluated when the double starts, so "yesterday" stays yesterday.

| username          | sub  | what it exercises                                          |
|-------------------|------|------------------------------------------------------------|
| Alice Member      | 1001 | an ordinary member: confirmed email, 1500 edits, since 2015 |
| Blocked Bob       | 1002 | blocked                                                    |
| Unconfirmed Uma   | 1003 | email address not confirmed                                |
| Newbie Nell       | 1004 | 3 edits, registered yesterday                              |
| Sysop Sam         | 1005 | groups sysop and bureaucrat                                |
| Ziko van Dijk     | 1006 | a space in the username                                    |
| Женя              | 1007 | a non-ASCII (Cyrillic) username                            |
| No Mail Nora      | 1008 | no email address at all                                    |
| Old Timer         | 1009 | registered before 2005: `registered` is null               |
| Hidden Hank       | 1010 | a hidden (suppressed) user: the profile is only sub+blocked |
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

DEFAULT_PASSWORD = "wikimedia-double"

BASE_RIGHTS = ["read", "edit", "createpage", "createtalk", "writeapi", "applychangetags", "viewmyprivateinfo",
               "editmyprivateinfo", "editmyoptions", "sendemail"]
GROUP_RIGHTS = {
    "autoconfirmed": ["autoconfirmed", "editsemiprotected", "move", "upload", "reupload"],
    "sysop": ["block", "delete", "protect", "editprotected", "undelete", "import", "rollback"],
    "bureaucrat": ["userrights", "renameuser"],
}
MEMBER_GROUPS = ["*", "user", "autoconfirmed"]


def mw_timestamp(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def _days_ago(days: float):
    return lambda: mw_timestamp(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days))


USERS: list[dict[str, Any]] = [
    {"sub": 1001, "username": "Alice Member", "email": "alice@example.org", "realname": "Alice Example",
     "confirmed_email": True, "editcount": 1500, "registered": "20150312104500", "blocked": False,
     "groups": MEMBER_GROUPS},
    {"sub": 1002, "username": "Blocked Bob", "email": "bob@example.org", "realname": "",
     "confirmed_email": True, "editcount": 420, "registered": "20180704093000", "blocked": True,
     "groups": MEMBER_GROUPS},
    {"sub": 1003, "username": "Unconfirmed Uma", "email": "uma@example.org", "realname": "Uma",
     "confirmed_email": False, "editcount": 800, "registered": "20190101120000", "blocked": False,
     "groups": MEMBER_GROUPS},
    {"sub": 1004, "username": "Newbie Nell", "email": "nell@example.org", "realname": "",
     "confirmed_email": True, "editcount": 3, "registered": _days_ago(1), "blocked": False,
     "groups": ["*", "user"]},
    {"sub": 1005, "username": "Sysop Sam", "email": "sam@example.org", "realname": "Sam Admin",
     "confirmed_email": True, "editcount": 25000, "registered": "20080215080000", "blocked": False,
     "groups": [*MEMBER_GROUPS, "sysop", "bureaucrat"]},
    {"sub": 1006, "username": "Ziko van Dijk", "email": "ziko@example.org", "realname": "Ziko van Dijk",
     "confirmed_email": True, "editcount": 9000, "registered": "20060520150000", "blocked": False,
     "groups": MEMBER_GROUPS},
    {"sub": 1007, "username": "Женя", "email": "zhenya@example.org", "realname": "Женя",
     "confirmed_email": True, "editcount": 640, "registered": "20200311070000", "blocked": False,
     "groups": MEMBER_GROUPS},
    {"sub": 1008, "username": "No Mail Nora", "email": "", "realname": "",
     "confirmed_email": False, "editcount": 300, "registered": "20170909090909", "blocked": False,
     "groups": MEMBER_GROUPS},
    {"sub": 1009, "username": "Old Timer", "email": "old@example.org", "realname": "",
     "confirmed_email": True, "editcount": 50000, "registered": None, "blocked": False,
     "groups": MEMBER_GROUPS},
    {"sub": 1010, "username": "Hidden Hank", "email": "hank@example.org", "realname": "",
     "confirmed_email": True, "editcount": 12, "registered": "20210101000000", "blocked": True,
     "hidden": True, "groups": MEMBER_GROUPS},
]

#: fields the admin endpoint may change
EDITABLE = {"username", "email", "realname", "confirmed_email", "editcount", "registered", "blocked", "hidden",
            "groups", "password"}


def rights_for(groups: list[str]) -> list[str]:
    rights = list(BASE_RIGHTS)
    for group in groups:
        rights += [r for r in GROUP_RIGHTS.get(group, []) if r not in rights]
    return rights


def default_users() -> list[dict[str, Any]]:
    """Fresh copies of USERS with computed fields resolved."""
    users = []
    for record in copy.deepcopy(USERS):
        if callable(record.get("registered")):
            record["registered"] = record["registered"]()
        record.setdefault("password", DEFAULT_PASSWORD)
        record.setdefault("hidden", False)
        users.append(record)
    return users
