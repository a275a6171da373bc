"""Entry point of this exported SCPO job: `python3 run.py --out OUT` (see README.md); the code is in job/."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'job'))

import run as job_run  # noqa: E402  (job/run.py, found first on the path set above)

if __name__ == '__main__':
    job_run.main()
