package dev.glimpse.spark;

import dev.glimpse.core.BadInputException;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/** Schema checks and row building shared by the transformers: input columns by name and type, outputs appended. */
final class Columns {
    private Columns() {}

    static boolean has(StructType schema, String name) {
        return Arrays.asList(schema.fieldNames()).contains(name);
    }

    /** Column {@code name} (set by param {@code param}) exists with one of {@code types}: else one line naming both. */
    static void require(StructType schema, String name, String param, DataType... types) {
        if (!has(schema, name)) {
            throw new BadInputException(param + ": no column '" + name + "' (columns: "
                    + String.join(", ", schema.fieldNames()) + ")");
        }
        DataType t = schema.apply(name).dataType();
        for (DataType ok : types) {
            if (sameType(ok, t)) {
                return;
            }
        }
        throw new BadInputException(param + ": column '" + name + "' is " + t.simpleString() + ", expected "
                + String.join(" or ", Arrays.stream(types).map(DataType::simpleString).toList()));
    }

    private static boolean sameType(DataType want, DataType got) {
        if (want instanceof org.apache.spark.sql.types.ArrayType a && got instanceof org.apache.spark.sql.types.ArrayType b) {
            return a.elementType().equals(b.elementType()); // containsNull is the reader's business
        }
        return want.equals(got);
    }

    /** The schema with nullable output columns appended; an output that would overwrite an input is refused. */
    static StructType append(StructType schema, List<String> names, List<DataType> types) {
        StructType out = schema;
        for (int i = 0; i < names.size(); i++) {
            if (has(out, names.get(i))) {
                throw new BadInputException("output column '" + names.get(i) + "' already exists; set another name");
            }
            out = out.add(new StructField(names.get(i), types.get(i), true,
                    org.apache.spark.sql.types.Metadata.empty()));
        }
        return out;
    }

    /** {@code row}'s values followed by {@code extra}. */
    static Row appendValues(Row row, Object[] extra) {
        Object[] v = new Object[row.length() + extra.length];
        for (int i = 0; i < row.length(); i++) {
            v[i] = row.get(i);
        }
        System.arraycopy(extra, 0, v, row.length(), extra.length);
        return RowFactory.create(v);
    }
}
