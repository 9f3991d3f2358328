from capitolmail.cli import main

main(prog_name="capitolmail")
