from flowcache.cli import main

raise SystemExit(main())
