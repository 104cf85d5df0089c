from precinct.core.privacy import mask_name, mask_phone


def test_masks() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86*******5678"
    assert mask_phone("110") == "***"
    assert mask_phone("12345") == "*2345"
    assert mask_phone(None) is None
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳修") == "欧**"
    assert mask_name("Li") == "L*"
    assert mask_name("王") == "王*"
    assert mask_name(None) is None
