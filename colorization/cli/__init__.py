"""The commands installed with the package (colorization-train, colorize, ...): one module per command, each with a
main(argv=None) -> exit code. tools/*.py run the same main()."""
