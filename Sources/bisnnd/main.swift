// bisnnd: the inference daemon. The command line is BisnndCommand; the service itself lives in BiSNNService.
BisnndCommand.main()
