package org.thinsr.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Generates one troff man page per command from its picocli annotations plus the hand-written
 * sections in {@code man/src/PAGE.1.in}, and checks that the pages in {@code man/} are current.
 *
 * <p>A page is {@code .TH}, NAME, SYNOPSIS, DESCRIPTION (the annotation's description followed by
 * the hand-written text before the fragment's first {@code .SH}), OPTIONS, ARGUMENTS, COMMANDS,
 * then the fragment's own sections, which must include EXAMPLES, EXIT STATUS and SEE ALSO.
 *
 * <p>{@code java -cp thinsr.jar org.thinsr.cli.ManPages MAN_DIR} (what {@code scripts/gen-man}
 * runs) rewrites every page.
 */
public final class ManPages {
    static final List<String> REQUIRED_SECTIONS = List.of("EXAMPLES", "EXIT STATUS", "SEE ALSO");

    private ManPages() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: ManPages MAN_DIR");
            System.exit(2);
        }
        Path manDir = Path.of(args[0]);
        List<String> problems = new ArrayList<>();
        for (CommandLine command : commands(Main.commandLine())) {
            String name = pageName(command.getCommandSpec());
            Path fragment = manDir.resolve("src").resolve(name + ".1.in");
            if (!Files.exists(fragment)) {
                problems.add("missing hand-written sections " + fragment);
                continue;
            }
            String page = render(command.getCommandSpec(), Files.readString(fragment, StandardCharsets.UTF_8));
            Files.writeString(manDir.resolve(name + ".1"), page, StandardCharsets.UTF_8);
        }
        problems.forEach(System.err::println);
        System.exit(problems.isEmpty() ? 0 : 1);
    }

    /** Every command of the tree that gets a page: all but hidden ones, parents included. */
    static List<CommandLine> commands(CommandLine root) {
        List<CommandLine> all = new ArrayList<>();
        collect(root, all);
        return all;
    }

    private static void collect(CommandLine command, List<CommandLine> into) {
        if (command.getCommandSpec().usageMessage().hidden()) {
            return;
        }
        into.add(command);
        for (CommandLine sub : command.getSubcommands().values()) {
            if (!into.contains(sub)) {
                collect(sub, into);
            }
        }
    }

    /** {@code thinsr}, {@code thinsr-map}, {@code thinsr-map-thin-dump}. */
    static String pageName(CommandSpec spec) {
        return spec.qualifiedName("-");
    }

    /**
     * Problems with the pages in {@code manDir}: missing or stale pages, missing fragments, fragments
     * without a required section. Empty when all is well.
     */
    static List<String> check(Path manDir) throws IOException {
        List<String> problems = new ArrayList<>();
        for (CommandLine command : commands(Main.commandLine())) {
            String name = pageName(command.getCommandSpec());
            Path fragmentFile = manDir.resolve("src").resolve(name + ".1.in");
            String fragment;
            try {
                fragment = Files.readString(fragmentFile, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                problems.add(name + ": no hand-written sections in " + fragmentFile
                        + " (write EXAMPLES, EXIT STATUS and SEE ALSO there, then run scripts/gen-man)");
                continue;
            }
            for (String section : REQUIRED_SECTIONS) {
                if (!hasSection(fragment, section)) {
                    problems.add(name + ": " + fragmentFile + " has no .SH \"" + section + "\" section");
                }
            }
            Path page = manDir.resolve(name + ".1");
            String expected = render(command.getCommandSpec(), fragment);
            if (!Files.exists(page)) {
                problems.add(name + ": no man page " + page + " (run scripts/gen-man)");
            } else if (!Files.readString(page, StandardCharsets.UTF_8).equals(expected)) {
                problems.add(name + ": " + page + " is stale (run scripts/gen-man)");
            }
        }
        return problems;
    }

    static boolean hasSection(String fragment, String section) {
        for (String line : fragment.split("\n", -1)) {
            String trimmed = line.strip();
            if (trimmed.equals(".SH " + section) || trimmed.equals(".SH \"" + section + "\"")) {
                return true;
            }
        }
        return false;
    }

    /** The troff page of one command. */
    static String render(CommandSpec spec, String fragment) {
        StringBuilder page = new StringBuilder();
        String name = pageName(spec);
        page.append(".\\\" Generated by org.thinsr.cli.ManPages from the picocli annotations and man/src/")
                .append(name)
                .append(".1.in; edit those, then run scripts/gen-man.\n");
        page.append(".TH \"")
                .append(name.toUpperCase(Locale.ROOT))
                .append("\" \"1\" \"\" \"thinsr\" \"thinsr Manual\"\n");
        page.append(".SH NAME\n")
                .append(escape(name))
                .append(" \\- ")
                .append(escape(firstSentence(description(spec))))
                .append('\n');
        page.append(".SH SYNOPSIS\n.nf\n").append(escapeBlock(synopsis(spec))).append(".fi\n");
        page.append(".SH DESCRIPTION\n").append(paragraphs(description(spec)));
        int firstSection = indexOfFirstSection(fragment);
        String details = fragment.substring(0, firstSection).strip();
        if (!details.isEmpty()) {
            page.append(".PP\n").append(details).append('\n');
        }
        appendOptions(spec, page);
        appendArguments(spec, page);
        appendCommands(spec, page);
        String sections = fragment.substring(firstSection).strip();
        if (!sections.isEmpty()) {
            page.append(sections).append('\n');
        }
        return page.toString();
    }

    private static int indexOfFirstSection(String fragment) {
        if (fragment.startsWith(".SH")) {
            return 0;
        }
        int index = fragment.indexOf("\n.SH");
        return index < 0 ? fragment.length() : index + 1;
    }

    private static void appendOptions(CommandSpec spec, StringBuilder page) {
        List<OptionSpec> options = new ArrayList<>();
        for (OptionSpec option : spec.options()) {
            if (!option.hidden()) {
                options.add(option);
            }
        }
        if (options.isEmpty()) {
            return;
        }
        page.append(".SH OPTIONS\n");
        for (OptionSpec option : options) {
            page.append(".TP\n");
            List<String> names = new ArrayList<>();
            for (String optionName : option.names()) {
                String label = "\\fB" + escape(optionName) + "\\fR";
                if (option.arity().max() > 0) {
                    label += "=\\fI" + escape(option.paramLabel()) + "\\fR";
                }
                names.add(label);
            }
            page.append(String.join(", ", names)).append('\n');
            page.append(escapeBlock(text(option)));
        }
    }

    private static void appendArguments(CommandSpec spec, StringBuilder page) {
        List<PositionalParamSpec> positionals = new ArrayList<>();
        for (PositionalParamSpec positional : spec.positionalParameters()) {
            if (!positional.hidden()) {
                positionals.add(positional);
            }
        }
        if (positionals.isEmpty()) {
            return;
        }
        page.append(".SH ARGUMENTS\n");
        for (PositionalParamSpec positional : positionals) {
            page.append(".TP\n\\fI").append(escape(positional.paramLabel())).append("\\fR\n");
            page.append(escapeBlock(text(positional)));
        }
    }

    private static void appendCommands(CommandSpec spec, StringBuilder page) {
        List<CommandSpec> subs = new ArrayList<>();
        for (CommandLine sub : spec.subcommands().values()) {
            CommandSpec subSpec = sub.getCommandSpec();
            if (!subSpec.usageMessage().hidden() && !subs.contains(subSpec)) {
                subs.add(subSpec);
            }
        }
        if (subs.isEmpty()) {
            return;
        }
        page.append(".SH COMMANDS\n");
        for (CommandSpec sub : subs) {
            page.append(".TP\n\\fB")
                    .append(escape(sub.name()))
                    .append("\\fR\n")
                    .append(escape(firstSentence(description(sub))))
                    .append(" See \\fB")
                    .append(escape(pageName(sub)))
                    .append("\\fR(1).\n");
        }
    }

    private static String synopsis(CommandSpec spec) {
        CommandLine.Help help =
                new CommandLine.Help(spec, CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
        return help.synopsis(0).stripTrailing() + "\n";
    }

    private static String description(CommandSpec spec) {
        return interpolate(String.join("\n", spec.usageMessage().description()), null);
    }

    private static String text(ArgSpec arg) {
        String described = interpolate(String.join("\n", arg.description()), arg);
        return described.isEmpty() ? "\n" : described + "\n";
    }

    private static String interpolate(String text, ArgSpec arg) {
        String result = text.replace("%n", "\n");
        if (arg != null) {
            String defaultValue = arg.defaultValueString();
            result = result.replace("${DEFAULT-VALUE}", defaultValue == null ? "" : defaultValue);
            Iterable<String> candidates = arg.completionCandidates();
            if (candidates != null) {
                result = result.replace("${COMPLETION-CANDIDATES}", String.join(", ", candidates));
            }
        }
        return result;
    }

    private static String firstSentence(String text) {
        String firstLine = text.strip().split("\n", 2)[0];
        int dot = firstLine.indexOf(". ");
        String sentence = dot < 0 ? firstLine : firstLine.substring(0, dot + 1);
        return sentence.endsWith(".") ? sentence.substring(0, sentence.length() - 1) : sentence;
    }

    private static String paragraphs(String text) {
        StringBuilder out = new StringBuilder();
        for (String line : text.strip().split("\n")) {
            if (line.isBlank()) {
                out.append(".PP\n");
            } else {
                out.append(escapeLine(line)).append('\n');
            }
        }
        return out.toString();
    }

    /** Escapes every line of a block, keeping line breaks. */
    private static String escapeBlock(String text) {
        StringBuilder out = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            out.append(escapeLine(line)).append('\n');
        }
        String result = out.toString();
        while (result.endsWith("\n\n")) {
            result = result.substring(0, result.length() - 1);
        }
        return result;
    }

    private static String escapeLine(String line) {
        String escaped = escape(line);
        return escaped.startsWith(".") || escaped.startsWith("'") ? "\\&" + escaped : escaped;
    }

    /** troff escapes: backslash and hyphen-minus. */
    static String escape(String text) {
        return text.replace("\\", "\\e").replace("-", "\\-");
    }
}
