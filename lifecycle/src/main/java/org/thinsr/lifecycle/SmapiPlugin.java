package org.thinsr.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * The SMAPIv3 (xapi-storage 5.0) adapter: one method per executable, invoked by
 * xapi-storage-script as {@code <script> --json} with the named arguments as a JSON object on
 * stdin. {@link #call} returns the bare result value (exit status 0) or the error object {@code
 * {"code":…,"params":[…],"backtrace":…}} (non-zero exit status).
 *
 * <p>The {@code sr} string that {@code SR.attach} returns is the SR reference ({@link SrRef#text()}:
 * the directory of a file SR, {@code lvm:VG} for lvm-thin). A volume's key is its VDI uuid; its
 * datapath URI is {@code thinsr:///VDI-UUID?sr=SR} (datapath plugin directory {@code thinsr}), and
 * a template also lists its own URI. {@code Volume.stat} of a key that is a URI introduces that
 * template first (xapi's VDI.introduce).
 */
public final class SmapiPlugin {
    /** Methods of the volume plugin. */
    public static final List<String> VOLUME_METHODS = List.of(
            "Plugin.Query",
            "Plugin.ls",
            "Plugin.diagnostics",
            "SR.create",
            "SR.attach",
            "SR.detach",
            "SR.destroy",
            "SR.stat",
            "SR.ls",
            "SR.probe",
            "SR.set_name",
            "SR.set_description",
            "Volume.create",
            "Volume.destroy",
            "Volume.clone",
            "Volume.snapshot",
            "Volume.resize",
            "Volume.stat",
            "Volume.set",
            "Volume.unset",
            "Volume.set_name",
            "Volume.set_description");

    /** Methods of the datapath plugin ({@code thinsr} scheme). */
    public static final List<String> DATAPATH_METHODS = List.of(
            "Plugin.Query",
            "Datapath.open",
            "Datapath.attach",
            "Datapath.activate",
            "Datapath.deactivate",
            "Datapath.detach",
            "Datapath.close");

    public static final String DATAPATH_SCHEME = "thinsr";
    private static final int MAX_INPUT = 1 << 20;
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final Lifecycle lifecycle;
    private final String version;

    public SmapiPlugin(Lifecycle lifecycle, String version) {
        this.lifecycle = lifecycle;
        this.version = version;
    }

    /** What a call produced: the JSON to print on stdout and the exit status. */
    public record Outcome(int exitStatus, String stdout) {}

    /**
     * Runs {@code method} (case-insensitive, as xapi-storage-script looks scripts up) with the
     * arguments {@code input} (a JSON object, at most 1 MiB). Never throws for domain failures.
     */
    public Outcome call(String method, byte[] input) {
        try {
            if (input.length > MAX_INPUT) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT, "arguments of " + input.length + " bytes, at most " + MAX_INPUT);
            }
            JsonNode arguments = input.length == 0 ? NODES.objectNode() : SrMetadataStore.JSON.readTree(input);
            if (arguments == null || !arguments.isObject()) {
                throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "arguments on stdin must be a JSON object");
            }
            JsonNode result = dispatch(canonical(method), (ObjectNode) arguments);
            return new Outcome(0, SrMetadataStore.JSON.writeValueAsString(result));
        } catch (ThinsrException e) {
            return failure(
                    e.code().smapiCode(), e.getMessage(), e.params(), e.code().exitStatus());
        } catch (IOException e) {
            return failure(
                    ErrorCode.INVALID_ARGUMENT.smapiCode(),
                    "arguments are not JSON: "
                            + String.valueOf(e.getMessage()).lines().findFirst().orElse(""),
                    List.of(),
                    2);
        } catch (RuntimeException e) {
            return failure("INTERNAL_ERROR", e.toString(), List.of(), 1);
        }
    }

    private static Outcome failure(String code, String message, List<String> params, int status) {
        ObjectNode error = NODES.objectNode();
        error.put("code", code);
        ArrayNode array = error.putArray("params");
        array.add(message);
        params.forEach(array::add);
        ObjectNode backtrace = error.putObject("backtrace");
        backtrace.put("error", message);
        backtrace.putArray("files");
        backtrace.putArray("lines");
        try {
            return new Outcome(status == 0 ? 1 : status, SrMetadataStore.JSON.writeValueAsString(error));
        } catch (IOException e) {
            return new Outcome(1, "{\"code\":\"INTERNAL_ERROR\",\"params\":[],\"backtrace\":{}}");
        }
    }

    private static String canonical(String method) {
        for (String known : VOLUME_METHODS) {
            if (known.equalsIgnoreCase(method)) {
                return known;
            }
        }
        for (String known : DATAPATH_METHODS) {
            if (known.equalsIgnoreCase(method)) {
                return known;
            }
        }
        throw new ThinsrException(ErrorCode.UNSUPPORTED, "Unimplemented: " + method, method);
    }

    private static String text(ObjectNode arguments, String name) {
        JsonNode value = arguments.get(name);
        if (value == null || !value.isTextual()) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "argument '" + name + "' (a string) is missing", name);
        }
        return value.asText();
    }

    private static long number(ObjectNode arguments, String name) {
        JsonNode value = arguments.get(name);
        if (value == null || !value.canConvertToLong()) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "argument '" + name + "' (an integer) is missing", name);
        }
        return value.asLong();
    }

    private static Map<String, String> stringMap(ObjectNode arguments, String name) {
        JsonNode value = arguments.get(name);
        Map<String, String> map = new TreeMap<>();
        if (value != null && value.isObject()) {
            value.properties()
                    .forEach(entry -> map.put(entry.getKey(), entry.getValue().asText()));
        }
        return map;
    }

    private static SrRef configurationRef(Map<String, String> configuration) {
        String backend = configuration.getOrDefault(
                "backend", configuration.containsKey("path") ? FileBackend.KIND : "lvm-thin");
        Map<String, String> rest = new HashMap<>(configuration);
        rest.remove("backend");
        return new SrRef(backend, new SrConfig(rest));
    }

    private static Optional<SrRef> sr(ObjectNode arguments) {
        return Optional.of(SrRef.parse(text(arguments, "sr")));
    }

    private JsonNode dispatch(String method, ObjectNode arguments) {
        return switch (method) {
            case "Plugin.Query" -> query();
            case "Plugin.ls" -> {
                ArrayNode srs = NODES.arrayNode();
                for (SrView view : lifecycle.srList()) {
                    srs.add(view.location());
                }
                yield srs;
            }
            case "Plugin.diagnostics" -> NODES.textNode("thinsr " + version);
            case "SR.create" -> {
                SrRef ref = configurationRef(stringMap(arguments, "configuration"));
                SrView view = lifecycle.srCreate(
                        ref,
                        Optional.of(text(arguments, "uuid")),
                        arguments.path("name").asText(""),
                        arguments.path("description").asText(""));
                ObjectNode configuration = NODES.objectNode();
                view.configuration().forEach(configuration::put);
                configuration.put("backend", view.backend());
                yield configuration;
            }
            case "SR.attach" -> {
                SrRef ref = configurationRef(stringMap(arguments, "configuration"));
                SrView view = lifecycle.srIntroduce(ref);
                yield NODES.textNode(new SrRef(view.backend(), new SrConfig(view.configuration())).text());
            }
            case "SR.detach" -> {
                lifecycle.srForget(sr(arguments).orElseThrow());
                yield NODES.nullNode();
            }
            case "SR.destroy" -> {
                lifecycle.srDestroy(sr(arguments).orElseThrow(), false);
                yield NODES.nullNode();
            }
            case "SR.stat" -> srStat(text(arguments, "sr"), lifecycle.srStat(sr(arguments)));
            case "SR.ls" -> {
                ArrayNode volumes = NODES.arrayNode();
                String srText = text(arguments, "sr");
                for (VdiView vdi : lifecycle.vdiList(sr(arguments))) {
                    volumes.add(volume(srText, vdi));
                }
                yield volumes;
            }
            case "SR.probe" -> {
                SrRef ref = configurationRef(stringMap(arguments, "configuration"));
                ArrayNode results = NODES.arrayNode();
                for (SrView view : lifecycle.srProbe(ref)) {
                    ObjectNode result = results.addObject();
                    ObjectNode configuration = result.putObject("configuration");
                    view.configuration().forEach(configuration::put);
                    configuration.put("backend", view.backend());
                    result.put("complete", true);
                    result.set("sr", srStat(ref.text(), view));
                    result.putObject("extra_info");
                }
                yield results;
            }
            case "SR.set_name" -> {
                lifecycle.srSet(sr(arguments), Optional.of(text(arguments, "new_name")), Optional.empty());
                yield NODES.nullNode();
            }
            case "SR.set_description" -> {
                lifecycle.srSet(sr(arguments), Optional.empty(), Optional.of(text(arguments, "new_description")));
                yield NODES.nullNode();
            }
            case "Volume.create" ->
                volume(
                        text(arguments, "sr"),
                        lifecycle.vdiCreate(
                                sr(arguments),
                                arguments.path("name").asText(""),
                                arguments.path("description").asText(""),
                                number(arguments, "size"),
                                Provisioning.THIN,
                                Map.of(),
                                Progress.NONE));
            case "Volume.destroy" -> {
                lifecycle.vdiDestroy(sr(arguments), text(arguments, "key"));
                yield NODES.nullNode();
            }
            case "Volume.clone" ->
                volume(
                        text(arguments, "sr"),
                        lifecycle.vdiClone(sr(arguments), text(arguments, "key"), Optional.empty()));
            case "Volume.snapshot" ->
                volume(text(arguments, "sr"), lifecycle.vdiSnapshot(sr(arguments), text(arguments, "key")));
            case "Volume.resize" -> {
                lifecycle.vdiResize(sr(arguments), text(arguments, "key"), number(arguments, "new_size"));
                yield NODES.nullNode();
            }
            case "Volume.stat" -> {
                String key = text(arguments, "key");
                VdiView vdi = key.contains("://")
                        ? lifecycle.vdiIntroduce(sr(arguments), key, "", "")
                        : lifecycle.vdiStat(sr(arguments), key);
                yield volume(text(arguments, "sr"), vdi);
            }
            case "Volume.set" -> {
                lifecycle.vdiSet(
                        sr(arguments),
                        text(arguments, "key"),
                        Optional.empty(),
                        Optional.empty(),
                        Map.of(text(arguments, "k"), text(arguments, "v")),
                        Set.of());
                yield NODES.nullNode();
            }
            case "Volume.unset" -> {
                lifecycle.vdiSet(
                        sr(arguments),
                        text(arguments, "key"),
                        Optional.empty(),
                        Optional.empty(),
                        Map.of(),
                        Set.of(text(arguments, "k")));
                yield NODES.nullNode();
            }
            case "Volume.set_name" -> {
                lifecycle.vdiSet(
                        sr(arguments),
                        text(arguments, "key"),
                        Optional.of(text(arguments, "new_name")),
                        Optional.empty(),
                        Map.of(),
                        Set.of());
                yield NODES.nullNode();
            }
            case "Volume.set_description" -> {
                lifecycle.vdiSet(
                        sr(arguments),
                        text(arguments, "key"),
                        Optional.empty(),
                        Optional.of(text(arguments, "new_description")),
                        Map.of(),
                        Set.of());
                yield NODES.nullNode();
            }
            case "Datapath.open", "Datapath.activate", "Datapath.deactivate", "Datapath.close" -> {
                DatapathUri.parse(text(arguments, "uri"));
                yield NODES.nullNode();
            }
            case "Datapath.attach" -> {
                DatapathUri uri = DatapathUri.parse(text(arguments, "uri"));
                yield backend(lifecycle.vdiAttach(Optional.of(SrRef.parse(uri.sr())), uri.vdi(), false));
            }
            case "Datapath.detach" -> {
                DatapathUri uri = DatapathUri.parse(text(arguments, "uri"));
                lifecycle.vdiDetach(Optional.of(SrRef.parse(uri.sr())), uri.vdi());
                yield NODES.nullNode();
            }
            default -> throw new ThinsrException(ErrorCode.UNSUPPORTED, "Unimplemented: " + method, method);
        };
    }

    private JsonNode query() {
        ObjectNode result = NODES.objectNode();
        result.put("plugin", "thinsr");
        result.put("name", "thinsr");
        result.put("description", "Thin-provisioned local SR on LVM dm-thin or qcow2 files, with template VDIs by URI");
        result.put("vendor", "thinsr");
        result.put("copyright", "thinsr contributors");
        result.put("version", version);
        result.put("required_api_version", "5.0");
        ArrayNode features = result.putArray("features");
        for (String feature : List.of(
                "SR_ATTACH",
                "SR_DETACH",
                "SR_CREATE",
                "SR_DELETE",
                "SR_PROBE",
                "SR_UPDATE",
                "VDI_CREATE",
                "VDI_DELETE",
                "VDI_ATTACH",
                "VDI_DETACH",
                "VDI_ACTIVATE",
                "VDI_DEACTIVATE",
                "VDI_CLONE",
                "VDI_SNAPSHOT",
                "VDI_RESIZE",
                "VDI_INTRODUCE",
                "VDI_UPDATE")) {
            features.add(feature);
        }
        result.putObject("configuration")
                .put("path", "file SR: the SR directory")
                .put("vg", "lvm-thin SR: the volume group")
                .put("device", "lvm-thin SR: block devices for a new volume group (own the world)");
        result.putArray("required_cluster_stack");
        return result;
    }

    private static JsonNode srStat(String srText, SrView view) {
        ObjectNode stat = NODES.objectNode();
        stat.put("sr", srText);
        stat.put("name", view.nameLabel());
        stat.put("uuid", view.uuid());
        stat.put("description", view.description());
        stat.put("free_space", view.stat() == null ? 0 : view.stat().freeBytes());
        stat.put("total_space", view.stat() == null ? 0 : view.stat().totalBytes());
        stat.putArray("datasources");
        stat.put("clustered", false);
        stat.putArray("health").add("Healthy").add("");
        return stat;
    }

    private static JsonNode volume(String srText, VdiView vdi) {
        ObjectNode volume = NODES.objectNode();
        volume.put("key", vdi.uuid());
        volume.put("uuid", vdi.uuid());
        volume.put("name", vdi.nameLabel());
        volume.put("description", vdi.description());
        volume.put("read_write", !vdi.readOnly());
        volume.put("sharable", false);
        volume.put("virtual_size", vdi.virtualSizeBytes());
        volume.put("physical_utilisation", vdi.physicalUtilisationBytes());
        ArrayNode uris = volume.putArray("uri");
        if (vdi.uri() != null) {
            uris.add(vdi.uri());
        } else {
            uris.add(new DatapathUri(srText, vdi.uuid()).text());
        }
        ObjectNode keys = volume.putObject("keys");
        vdi.keys().forEach(keys::put);
        return volume;
    }

    private static JsonNode backend(Attachment attachment) {
        ObjectNode result = NODES.objectNode();
        ArrayNode implementations = result.putArray("implementations");
        ArrayNode implementation = implementations.addArray();
        implementation.add(attachment.kind().smapiName());
        ObjectNode details = implementation.addObject();
        switch (attachment.kind()) {
            case BLOCK_DEVICE, FILE -> details.put("path", attachment.target());
            case NBD -> details.put("uri", xapiNbdUri(attachment.target()));
        }
        return result;
    }

    /** {@code nbd+unix:///NAME?socket=PATH} as xapi's {@code nbd:unix:PATH:exportname=NAME}. */
    static String xapiNbdUri(String target) {
        try {
            URI uri = new URI(target);
            String name = uri.getPath() == null ? "" : uri.getPath().replaceFirst("^/", "");
            String socket = "";
            for (String part : String.valueOf(uri.getRawQuery()).split("&", -1)) {
                if (part.startsWith("socket=")) {
                    socket = URLDecoder.decode(part.substring(7), StandardCharsets.UTF_8);
                }
            }
            return "nbd:unix:" + socket + ":exportname=" + name;
        } catch (URISyntaxException e) {
            throw new ThinsrException(ErrorCode.INTERNAL_ERROR, "attachment target is not a URI: " + target, e);
        }
    }

    /** {@code thinsr:///VDI-UUID?sr=SR}. */
    record DatapathUri(String sr, String vdi) {
        String text() {
            return DATAPATH_SCHEME + ":///" + vdi + "?sr=" + URLEncoder.encode(sr, StandardCharsets.UTF_8);
        }

        static DatapathUri parse(String text) {
            try {
                URI uri = new URI(text);
                if (!DATAPATH_SCHEME.equals(String.valueOf(uri.getScheme()).toLowerCase(Locale.ROOT))
                        || uri.getPath() == null
                        || uri.getRawQuery() == null
                        || !uri.getRawQuery().startsWith("sr=")) {
                    throw new ThinsrException(
                            ErrorCode.INVALID_ARGUMENT,
                            "not a thinsr datapath URI (thinsr:///VDI?sr=SR): " + text,
                            text);
                }
                String vdi = uri.getPath().replaceFirst("^/", "");
                String sr = URLDecoder.decode(uri.getRawQuery().substring(3), StandardCharsets.UTF_8);
                return new DatapathUri(sr, vdi);
            } catch (URISyntaxException e) {
                throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "malformed datapath URI: " + text, text);
            }
        }
    }
}
