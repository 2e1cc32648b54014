using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(MailAgent.Benchmarks.ParserBenchmarks).Assembly).Run(args);
