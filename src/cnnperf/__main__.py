from cnnperf.cli import main

raise SystemExit(main())
