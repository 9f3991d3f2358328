from capitolmail.cli import main

main()
