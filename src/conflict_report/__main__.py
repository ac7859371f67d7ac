from conflict_report.cli import main

raise SystemExit(main())
