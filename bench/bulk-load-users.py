#!/usr/bin/env python3
"""Offline bulk load of the benchmark users into a freshly provisioned Samba DC (samba not running).

    python3 bench/bulk-load-users.py <dc-folder>

Samba serialises LDAP writes at a few hundred adds per second, so 110,000 users over LDAPS would take
many minutes. Writing through Samba's own SamDB bindings in one transaction runs the same DSDB modules
(objectGUID, objectSid, RID allocation) at a fraction of that. Kept in step with bench/bench-directory.ts,
which names the layout the benchmark expects.
"""
import os
import sys
import time

from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

BASE_DN = 'DC=contoso,DC=com'
# (top OU, sub-OUs, users per sub-OU): 10 x 1,000 and 100 x 1,000.
LAYOUT = [('Bench10k', 10, 1000), ('Bench100k', 100, 1000)]
UAC_NORMAL = 512
UAC_DISABLED = 514
MARKER = 'bench-seed.done'


def consistency_guid(ou, n):
    # Deterministic 16 bytes, unlike objectGUID which Samba assigns.
    return (f'{ou}:{n:06d}'.encode() + b'\0' * 16)[:16]


def user_message(top, ou_dn, n):
    sam = f'{top.lower()}-{n:06d}'
    msg = {
        'dn': f'CN=Bench User {n:06d},{ou_dn}',
        'objectClass': 'user',
        'sAMAccountName': sam,
        'userPrincipalName': f'{sam}@contoso.com',
        'userAccountControl': str(UAC_DISABLED if n % 20 == 0 else UAC_NORMAL),
    }
    if n % 10 == 0:
        msg['mS-DS-ConsistencyGuid'] = consistency_guid(top, n)
    return msg


def main():
    folder = sys.argv[1]
    lp = LoadParm()
    lp.load(os.path.join(folder, 'etc', 'smb.conf'))
    # batch_mode is what `samba-tool domain join` uses: no per-add copy of the growing index lists
    # (which makes plain adds slower with every user), at the price of one all-or-nothing transaction.
    options = ['batch_mode:1', 'transaction_index_cache_size:200003']
    db = SamDB(url=os.path.join(folder, 'private', 'sam.ldb'), session_info=system_session(), lp=lp, options=options)
    start = time.time()
    total = 0
    db.transaction_start()
    try:
        for top, subs, per_sub in LAYOUT:
            db.add({'dn': f'OU={top},{BASE_DN}', 'objectClass': 'organizationalUnit', 'ou': top})
            for s in range(1, subs + 1):
                ou_dn = f'OU=Dept{s:03d},OU={top},{BASE_DN}'
                db.add({'dn': ou_dn, 'objectClass': 'organizationalUnit', 'ou': f'Dept{s:03d}'})
                for i in range(per_sub):
                    db.add(user_message(top, ou_dn, (s - 1) * per_sub + i + 1))
                    total += 1
                print(f'[bulk-load] {top}: {s * per_sub} users ({time.time() - start:.0f}s)', flush=True)
        db.transaction_commit()
    except Exception:
        db.transaction_cancel()
        raise
    with open(os.path.join(folder, MARKER), 'w') as f:
        f.write(f'{total}\n')
    print(f'[bulk-load] {total} users in {time.time() - start:.0f}s', flush=True)


if __name__ == '__main__':
    main()
