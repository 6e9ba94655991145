"""owner_filter: leave out every entry owned by certain users.

Option plugin (python-fd NEW API). Options (at least one of them):
    skip_users=alice,bob   user names (looked up in the password database when the job starts)
    skip_uids=0,1000       numeric user ids

Entries of any type whose owner matches are skipped (bRC_Skip: not saved at all); everything else goes to the
host (bRC_Core). A skipped directory record does not skip its contents: they were offered before it. At the end
of the backup a job message reports how many entries were skipped.

FileSet: Options { Plugin = "python3:module_path=/path/to/examples/plugins:module_name=owner_filter:skip_users=nobody:skip_uids=0" }
"""

import pwd

import bareosfd
from BareosFdPluginBaseclass import BareosFdPluginBaseclass
from BareosFdWrapper import *  # noqa: F401,F403 - the entry points the host looks up in this module


def split_list(value):
    return [item.strip() for item in value.split(",") if item.strip()]


@BareosPlugin
class OwnerFilter(BareosFdPluginBaseclass):
    def __init__(self, plugindef):
        super().__init__(plugindef)
        self.skip = set()
        self.skipped = 0

    def check_options(self, mandatory_options=None):
        """Turn skip_users/skip_uids into a set of uids; called after every parse_plugin_definition."""
        if "skip_users" not in self.options and "skip_uids" not in self.options:
            bareosfd.JobMessage(bareosfd.M_FATAL, "owner_filter: set skip_users=NAME,... and/or skip_uids=UID,...\n")
            return bareosfd.bRC_Error
        uids = set()
        for text in split_list(self.options.get("skip_uids", "")):
            if not text.isdigit():
                bareosfd.JobMessage(bareosfd.M_FATAL, "owner_filter: skip_uids: '%s' is not a user id\n" % text)
                return bareosfd.bRC_Error
            uids.add(int(text))
        for name in split_list(self.options.get("skip_users", "")):
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                bareosfd.JobMessage(bareosfd.M_WARNING, "owner_filter: skip_users: no user named '%s'\n" % name)
        self.skip = uids
        return bareosfd.bRC_OK

    def handle_backup_file(self, savepkt):
        if savepkt.statp is not None and savepkt.statp.st_uid in self.skip:
            self.skipped += 1
            return bareosfd.bRC_Skip
        return bareosfd.bRC_Core

    def end_backup_job(self):
        bareosfd.JobMessage(bareosfd.M_INFO, "owner_filter: skipped %d entries\n" % self.skipped)
        return bareosfd.bRC_OK
