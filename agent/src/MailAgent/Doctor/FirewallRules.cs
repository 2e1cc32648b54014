using System.Globalization;
using System.Text.RegularExpressions;

namespace MailAgent.Doctor;

/// <summary>What a ruleset does to inbound traffic: whether it filters at all, and which of the asked ports it leaves closed.</summary>
internal sealed record FirewallVerdict(bool Filters, IReadOnlyList<int> Closed, string Summary);

/// <summary>Reads 'nft list ruleset' or 'iptables-save' output: a pure function, tested on fixture text.</summary>
internal static partial class FirewallRules
{
    public static FirewallVerdict Judge(string rules, IReadOnlyList<int> ports)
    {
        if (string.IsNullOrWhiteSpace(rules))
            return new(false, ports, "no rules at all");
        return rules.Contains("-A INPUT", StringComparison.Ordinal) || rules.Contains(":INPUT ", StringComparison.Ordinal)
            ? JudgeIptables(rules, ports)
            : JudgeNft(rules, ports);
    }

    private static FirewallVerdict JudgeNft(string rules, IReadOnlyList<int> ports)
    {
        bool filters = false;
        var accepted = new HashSet<int>();
        int inputChains = 0;
        // Chains hooked on input: their policy and their accept rules.
        foreach (Match chain in NftChain().Matches(rules))
        {
            string body = chain.Groups[1].Value;
            if (!body.Contains("hook input", StringComparison.Ordinal))
                continue;
            inputChains++;
            if (body.Contains("policy drop", StringComparison.Ordinal) || FinalDrop().IsMatch(body))
                filters = true;
            foreach (var line in body.Split('\n'))
            {
                if (!line.Contains("accept", StringComparison.Ordinal) || DportSpec().Match(line) is not { Success: true } m)
                    continue;
                foreach (int p in Ports(m.Groups[1].Value))
                    accepted.Add(p);
            }
        }

        var closed = ports.Where(p => !accepted.Contains(p)).ToArray();
        return new(filters, closed, $"{inputChains} input chain(s), {(filters ? "dropping by default" : "accepting by default")}, accepting tcp {string.Join(", ", accepted.Order())}");
    }

    private static FirewallVerdict JudgeIptables(string rules, IReadOnlyList<int> ports)
    {
        bool filters = rules.Contains(":INPUT DROP", StringComparison.Ordinal)
            || rules.Split('\n').Any(l => l.StartsWith("-A INPUT", StringComparison.Ordinal) && l.Trim().EndsWith("-j DROP", StringComparison.Ordinal) && !l.Contains("--dport", StringComparison.Ordinal));
        var accepted = new HashSet<int>();
        foreach (var line in rules.Split('\n'))
        {
            if (!line.StartsWith("-A INPUT", StringComparison.Ordinal) || !line.Contains("-j ACCEPT", StringComparison.Ordinal))
                continue;
            if (IptablesPorts().Match(line) is { Success: true } m)
            {
                foreach (int p in Ports(m.Groups[1].Value))
                    accepted.Add(p);
            }
        }

        var closed = ports.Where(p => !accepted.Contains(p)).ToArray();
        return new(filters, closed, $"iptables INPUT {(filters ? "dropping by default" : "accepting by default")}, accepting tcp {string.Join(", ", accepted.Order())}");
    }

    /// <summary>"25", "{ 25, 465, 587 }", "25,465,587", "20-30" → the ports.</summary>
    private static IEnumerable<int> Ports(string spec)
    {
        foreach (var part in spec.Trim('{', '}', ' ').Split([',', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split(['-', ':']);
            if (range.Length == 2 && int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out int from)
                && int.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out int to) && to >= from && to - from < 65536)
            {
                for (int p = from; p <= to; p++)
                    yield return p;
            }
            else if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int port))
                yield return port;
            else if (part == "smtp")
                yield return 25;
            else if (part == "submissions")
                yield return 465;
            else if (part == "submission")
                yield return 587;
        }
    }

    [GeneratedRegex(@"chain\s+\S+\s*\{(.*?)\n\s*\}", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex NftChain();

    [GeneratedRegex(@"tcp\s+dport\s+(\{[^}]*\}|\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex DportSpec();

    [GeneratedRegex(@"^\s*(drop|reject)\b", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex FinalDrop();

    [GeneratedRegex(@"-p tcp .*?--dports? (\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex IptablesPorts();
}
