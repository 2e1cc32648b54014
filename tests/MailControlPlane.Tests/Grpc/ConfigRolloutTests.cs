using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MailAgent.Protos.ControlPlane.V1;
using MailAgent.Protos.V1;
using MailControlPlane.Grpc;
using Microsoft.Extensions.Time.Testing;

namespace MailControlPlane.Tests.Grpc;

public sealed class ConfigRolloutTests
{
    private sealed class FakeAgents(FakeTimeProvider time) : IRolloutTarget
    {
        public List<string> Applied { get; } = [];
        public Dictionary<string, ApplyResult> Results { get; } = [];
        /// <summary>Agent → when (after its apply) it turns unhealthy.</summary>
        public Dictionary<string, TimeSpan> UnhealthyAfter { get; } = [];
        public Dictionary<string, DateTimeOffset> AppliedAt { get; } = [];
        public List<(string Agent, DateTimeOffset? At)> Changes { get; } = [];
        public string? Throws { get; set; }

        public bool Exists(string agent) => agent.StartsWith("postfix-", StringComparison.Ordinal);

        public Task<ApplyConfigResponse> ApplyConfigAsync(string agent, ApplyConfigRequest request, CancellationToken cancellationToken)
        {
            if (agent == Throws)
                throw new RpcException(new Status(StatusCode.Unavailable, "connection refused"));
            Applied.Add(agent);
            AppliedAt[agent] = time.GetUtcNow();
            Assert.Equal("10", request.Set["smtp_destination_concurrency_limit"]);
            Assert.NotEmpty(request.IdempotencyKey);
            var result = Results.GetValueOrDefault(agent, ApplyResult.Applied);
            return Task.FromResult(new ApplyConfigResponse { Result = result, Reason = result == ApplyResult.Applied ? "" : "postfix check failed", ConfigHash = "abc" });
        }

        public bool IsHealthy(string agent, out string reason)
        {
            bool healthy = !UnhealthyAfter.TryGetValue(agent, out var after) || time.GetUtcNow() - AppliedAt[agent] < after;
            reason = healthy ? "" : "check postfix unhealthy: master not running";
            return healthy;
        }

        public void SetChangeInProgress(string agent, DateTimeOffset? startedAt) => Changes.Add((agent, startedAt));
    }

    private static RollOutConfigRequest Request(params string[] agents)
    {
        var r = new RollOutConfigRequest { SoakTime = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)) };
        r.Set["smtp_destination_concurrency_limit"] = "10";
        r.Agents.Add(agents);
        return r;
    }

    private static async Task<(bool Ok, List<RollOutProgress> Steps)> RunAsync(FakeTimeProvider time, ConfigRollout rollout, RollOutConfigRequest request)
    {
        var steps = new List<RollOutProgress>();
        var run = rollout.RunAsync(request, p =>
        {
            lock (steps)
                steps.Add(p);
            return Task.CompletedTask;
        }, CancellationToken.None);
        // Drive the fake clock until the roll-out ends, giving its continuations real time to run
        // (a fixed number of advances raced the thread pool on a loaded machine).
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!run.IsCompleted && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.WhenAny(run, Task.Delay(1));
        }

        Assert.True(run.IsCompleted, "the roll-out did not end");
        return (await run, steps);
    }

    [Fact]
    public async Task RunAsync_AllHealthy_AppliesInOrderEachAfterTheSoakTime()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-28T04:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var agents = new FakeAgents(time);
        var (ok, steps) = await RunAsync(time, new ConfigRollout(agents, time), Request("postfix-oregon", "postfix-virginia"));

        Assert.True(ok);
        Assert.Equal(["postfix-oregon", "postfix-virginia"], agents.Applied);
        Assert.True(agents.AppliedAt["postfix-virginia"] - agents.AppliedAt["postfix-oregon"] >= TimeSpan.FromSeconds(30));
        Assert.Equal(
            [RollOutStep.Applying, RollOutStep.Soaking, RollOutStep.Done, RollOutStep.Applying, RollOutStep.Soaking, RollOutStep.Done],
            steps.Select(s => s.Step));
        Assert.Equal("Applied", steps[1].ApplyResult);
        // The scorer is told while each apply runs, and told when it ended.
        Assert.Equal([("postfix-oregon", true), ("postfix-oregon", false), ("postfix-virginia", true), ("postfix-virginia", false)],
            agents.Changes.Select(c => (c.Agent, c.At != null)));
    }

    [Fact]
    public async Task RunAsync_FirstAgentRollsBack_StopsAndSkipsTheRest()
    {
        var time = new FakeTimeProvider();
        var agents = new FakeAgents(time);
        agents.Results["postfix-oregon"] = ApplyResult.RolledBack;
        var (ok, steps) = await RunAsync(time, new ConfigRollout(agents, time), Request("postfix-oregon", "postfix-virginia", "postfix-ohio"));

        Assert.False(ok);
        Assert.Equal(["postfix-oregon"], agents.Applied);
        Assert.Equal([RollOutStep.Applying, RollOutStep.Failed, RollOutStep.Skipped, RollOutStep.Skipped], steps.Select(s => s.Step));
        Assert.Equal("RolledBack", steps[1].ApplyResult);
        Assert.Equal("postfix check failed", steps[1].Reason);
    }

    [Fact]
    public async Task RunAsync_AgentTurnsUnhealthyDuringSoak_StopsBeforeTheNext()
    {
        var time = new FakeTimeProvider();
        var agents = new FakeAgents(time);
        agents.UnhealthyAfter["postfix-oregon"] = TimeSpan.FromSeconds(10);
        var (ok, steps) = await RunAsync(time, new ConfigRollout(agents, time), Request("postfix-oregon", "postfix-virginia"));

        Assert.False(ok);
        Assert.Equal(["postfix-oregon"], agents.Applied);
        Assert.Equal([RollOutStep.Applying, RollOutStep.Soaking, RollOutStep.Failed, RollOutStep.Skipped], steps.Select(s => s.Step));
        Assert.Contains("master not running", steps[2].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_UnchangedThenCallFails_SecondFailsWithTheStatus()
    {
        var time = new FakeTimeProvider();
        var agents = new FakeAgents(time) { Throws = "postfix-virginia" };
        agents.Results["postfix-oregon"] = ApplyResult.Unchanged;
        var (ok, steps) = await RunAsync(time, new ConfigRollout(agents, time), Request("postfix-oregon", "postfix-virginia"));

        Assert.False(ok);
        Assert.Equal(RollOutStep.Done, steps[2].Step);
        Assert.Equal(RollOutStep.Failed, steps[^1].Step);
        Assert.Contains("Unavailable", steps[^1].Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], "agents is empty")]
    [InlineData(new[] { "postfix-oregon", "postfix-oregon" }, "named twice")]
    [InlineData(new[] { "elsewhere" }, "not configured")]
    public void Problem_BadRequest_SaysWhy(string[] agents, string expected)
    {
        var time = new FakeTimeProvider();
        var problem = new ConfigRollout(new FakeAgents(time), time).Problem(Request(agents));
        Assert.NotNull(problem);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_NothingToChange_SaysSo()
    {
        var time = new FakeTimeProvider();
        var request = new RollOutConfigRequest();
        request.Agents.Add("postfix-oregon");
        Assert.Contains("nothing to roll out", new ConfigRollout(new FakeAgents(time), time).Problem(request), StringComparison.Ordinal);
    }
}
