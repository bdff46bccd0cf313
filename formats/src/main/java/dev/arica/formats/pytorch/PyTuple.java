package dev.arica.formats.pytorch;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** A Python tuple built by a pickle; items may be null (None). Kept apart from lists, which pickles mutate. */
record PyTuple(List<Object> items) {

    PyTuple {
        items = Collections.unmodifiableList(Arrays.asList(items.toArray()));
    }

    static PyTuple of(Object... items) {
        return new PyTuple(Arrays.asList(items));
    }

    int size() {
        return items.size();
    }

    Object get(int i) {
        return items.get(i);
    }
}
